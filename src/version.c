/* The library's version string: the header's, compiled in. CMakeLists.txt refuses to
 * configure when the header's WSE_VERSION_* differ from project(VERSION), so this is
 * also the version the build and the packages carry. */
#include "wsexec.h"

const char *
wse_version_string(void)
{
    return WSE_VERSION_STRING;
}
