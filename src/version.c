/* The library's version string. WSE__PROJECT_VERSION comes from the build
 * (project(VERSION) in CMakeLists.txt, which checks that include/wsexec.h agrees). */
#include <wsexec.h>

#ifndef WSE__PROJECT_VERSION
#error "WSE__PROJECT_VERSION must be defined by the build"
#endif

const char *
wse_version_string(void)
{
    return WSE__PROJECT_VERSION;
}
