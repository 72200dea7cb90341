# Stub bsd.subdir.mk (see README): run each target in each SUBDIR in order.
all clean install: .PHONY
.for _dir in ${SUBDIR}
	@echo "===> ${_dir} (${.TARGET})"
	cd ${.CURDIR}/${_dir} && ${MAKE} ${.TARGET}
.endfor
