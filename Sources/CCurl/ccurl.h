// libcurl from the system (Debian: libcurl4-openssl-dev), for the Docker Engine API socket.
#include <curl/curl.h>
