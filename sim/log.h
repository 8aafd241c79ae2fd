/* Logging of vigi-sim: stderr only, and only with --verbose. */
#ifndef SIM_LOG_H
#define SIM_LOG_H

extern int sim_verbose;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void sim_log(const char *fmt, ...);

#endif
