// zlib from the system (Debian: zlib1g-dev), for gzip-compressed image layers.
#include <zlib.h>
