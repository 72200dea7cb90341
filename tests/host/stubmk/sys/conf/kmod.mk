# Stub kmod.mk (see README): the interface a module Makefile relies on.
EXPORT_SYMS?=	NO
SRCS+=		opt_global.h
CFLAGS+=	-D_KERNEL -DKLD_MODULE -nostdinc -I. -I${SYSDIR} \
		-include opt_global.h
OBJS+=		${SRCS:N*.h:R:S/$/.o/g}
PROG=		${KMOD}.ko

all: ${PROG}

${PROG}: ${OBJS} ${BLOB_OBJS}
	${LD} -m elf_x86_64_fbsd -r -o ${.TARGET} ${OBJS} ${BLOB_OBJS}
.if ${EXPORT_SYMS} != YES
.if ${EXPORT_SYMS} == NO
	:> export_syms
.elif !exists(${.CURDIR}/${EXPORT_SYMS})
	printf '%s' "${EXPORT_SYMS:@s@$s${.newline}@}" > export_syms
.else
	grep -v '^#' < ${EXPORT_SYMS} > export_syms
.endif
	localize-all-but export_syms ${.TARGET}
.endif

${OBJS}: ${SRCS:M*.h}

.for _h in ${SRCS:Mopt_*.h}
${_h}:
	:> ${.TARGET}
.endfor

clean: .PHONY
	rm -f ${PROG} ${OBJS} ${CLEANFILES} export_syms
