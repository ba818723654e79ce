/* Status codes -> short English descriptions. */
#include "xairt.h"
#include "rt_internal.h"

#include <stdarg.h>
#include <stdio.h>

const char *xai_status_string(int status)
{
    switch (status) {
    case XAI_OK: return "success";
    case XAI_ENULL: return "a required pointer argument is NULL";
    case XAI_EBATCH: return "batch size out of range";
    case XAI_EALIGN: return "workspace not 64-byte aligned";
    case XAI_ETARGET: return "target class out of range";
    case XAI_ENAN: return "input holds NaN or infinity";
    case XAI_EWEIGHTS: return "external weights missing, of the wrong size or not the file compiled against";
    case XAI_EIO: return "file cannot be opened, read or written";
    case XAI_EFORMAT: return "file is malformed";
    case XAI_EDTYPE: return "unsupported or unexpected element type";
    case XAI_ESHAPE: return "shape does not match what was expected";
    case XAI_ENOMEM: return "out of memory";
    case XAI_EARG: return "invalid argument";
    case XAI_EDIVERGED: return "the optimisation diverged (NaN or infinity); lower the learning rate";
    case XAI_ENONFINITE: return "the result holds NaN or infinity although the inputs are finite";
    case XAI_EWORKSPACE: return "workspace smaller than NET_workspace_size(batch)";
    default: return "unknown status code";
    }
}

int xai_fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* One line: a file name or tensor name taken from input must not break the line. */
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return status;
}
