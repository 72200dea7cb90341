# Stub sys.mk (see README).
.SUFFIXES: .o .c .h
CC?=		cc
LD?=		ld
OBJCOPY?=	objcopy
.c.o:
	${CC} ${CFLAGS} -c ${.IMPSRC} -o ${.TARGET}
