/* The control plane of a camera on its HTTPS port (WIRE-NOTES §2, §4):
 * POST / (doAuth), POST /stok=<stok>[/ds] (every other method), and the
 * test-only admin path /__sim__/ (admin.h). The hooks' arg is the
 * struct camera. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include "httpd.h"

extern const struct http_hooks control_hooks;

#endif
