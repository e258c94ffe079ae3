/*
 * cf_threads.h — the signal masks around the kernel's threads, in plain C.
 *
 * The backend is single-threaded by design: PostgreSQL's signal handlers
 * (cancel, terminate, timeouts) must only ever run on the backend's own
 * thread.  A thread inherits the signal mask of the thread that creates it,
 * and libgomp may create its pool threads at any parallel region, so every
 * region of the kernel (and every probe thread of cf_threads_start) opens
 * with all signals blocked and closes by restoring the mask:
 *
 *		sigset_t	old;
 *
 *		CfBlockSignals(&old);
 *	#pragma omp parallel ...
 *		{
 *			int		nt;
 *			int		tid = CfThreadEnter(&old, &nt);
 *			...
 *		}
 *		CfRestoreSignals(&old);
 *
 * Inside the region the main thread takes its own mask back at once
 * (CfThreadEnter), so the backend keeps receiving signals while its workers
 * run; CfRestoreSignals covers regions that ran no team and the ones that do
 * not call CfThreadEnter.  Only the kernel's own files include this header.
 */
#ifndef CF_THREADS_H
#define CF_THREADS_H

#include <pthread.h>
#include <signal.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Block every signal in the calling thread, saving its mask in *old; threads it creates inherit the full mask */
static inline void
CfBlockSignals(sigset_t *old)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

/* Give the calling thread back the mask CfBlockSignals saved */
static inline void
CfRestoreSignals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * At the start of a parallel region: this thread's number, and the team's
 * size in *nt; thread 0 (the backend's own) gets its signal mask `old` back
 */
static inline int
CfThreadEnter(const sigset_t *old, int *nt)
{
	int			tid = 0;

	*nt = 1;
#ifdef _OPENMP
	tid = omp_get_thread_num();
	*nt = omp_get_num_threads();
#endif
	if (tid == 0)
		CfRestoreSignals(old);
	return tid;
}

#endif
