# Stub bsd.kmod.mk (see README).
SYSDIR?=	/usr/src/sys
.include "${SYSDIR}/conf/kmod.mk"
