/*
 * The executor's internal face (executor.c): what the top-layer modules and the
 * white-box tests need beyond the public API.
 */
#ifndef WSE__EXECUTOR_H
#define WSE__EXECUTOR_H

#include "wsexec.h"

#include "worker.h"

/* The pool of ex's workers. */
struct wse__pool *wse__executor_pool(wse_executor *ex);

#endif /* WSE__EXECUTOR_H */
