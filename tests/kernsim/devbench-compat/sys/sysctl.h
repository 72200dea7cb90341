/* devbench on kernsim: sysctlbyname("hw.model") only, from Linux's
 * /proc/cpuinfo (glibc has no sysctl). */
#ifndef _DEVBENCH_COMPAT_SYS_SYSCTL_H_
#define	_DEVBENCH_COMPAT_SYS_SYSCTL_H_

#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline int
sysctlbyname(const char *name, void *old, size_t *oldlen,
    const void *new __attribute__((__unused__)),
    size_t newlen __attribute__((__unused__)))
{
	char line[512], *v;
	FILE *f;
	int rv = -1;

	if (strcmp(name, "hw.model") != 0 || old == NULL || *oldlen == 0 ||
	    (f = fopen("/proc/cpuinfo", "r")) == NULL) {
		errno = ENOENT;
		return (-1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "model name", 10) != 0 ||
		    (v = strchr(line, ':')) == NULL)
			continue;
		v += strspn(v + 1, " \t") + 1;
		v[strcspn(v, "\n")] = '\0';
		snprintf(old, *oldlen, "%s", v);
		*oldlen = strlen(old) + 1;
		rv = 0;
		break;
	}
	fclose(f);
	if (rv != 0)
		errno = ENOENT;
	return (rv);
}

#endif
