/*
 * itemcf.h — settings shared across itemcf's C files.
 */
#ifndef ITEMCF_H
#define ITEMCF_H

extern int	itemcf_threads;			/* itemcf.threads: OpenMP threads, 0 = all cores */
extern int	itemcf_build_memory;	/* itemcf.build_memory: MB per build, per process */
extern int	itemcf_max_result_size;	/* itemcf.max_result_size: kB per aggregate result */

#endif
