/* Kernel options of a standalone module build: none (as kmod.mk makes it). */
