// libyaml from the system (Debian: libyaml-dev), linked statically into DstackHost.
#include <yaml.h>
