/* The admin path /__sim__/ of the control port: test-only, no token, JSON
 * in and out (docs/sim.md lists the endpoints). */
#ifndef SIM_ADMIN_H
#define SIM_ADMIN_H

#include "camera.h"
#include "httpd.h"

/* path is the part after "/__sim__/", without the query. */
void admin_request(struct camera *cam, struct http_conn *c, const char *verb,
		   const char *path, const char *body, size_t body_len);

#endif
