/*
 * cf_threads.c — starting the kernel's OpenMP team safely, in plain C.
 *
 * libgomp ends the whole process with exit(1) when it cannot create a
 * thread, which inside a backend would take the server down with it.  So
 * before the first parallel region of a build, cf_threads_start creates the
 * threads libgomp will need with pthread_create (which reports failure),
 * lets them exit, and then runs an empty region that grows libgomp's pool;
 * a failure is returned to the caller, which raises an ordinary ERROR on the
 * backend's thread.  Every thread here starts with all signals blocked
 * (cf_threads.h), so PostgreSQL's handlers keep running on the backend's own
 * thread only.
 */
#include "cf_kernel.h"
#include "cf_threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
/* The gate probe threads wait at */
typedef struct ProbeGate
{
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int			go;
} ProbeGate;

/* A probe thread: wait until told to go, then exit */
static void *
ProbeThread(void *arg)
{
	ProbeGate  *g = (ProbeGate *) arg;

	pthread_mutex_lock(&g->lock);
	while (!g->go)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* Threads of this process (Linux: /proc/self/status), or -1 if unknown */
static int
ProcessThreads(void)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	int			n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Threads:", 8) == 0)
		{
			n = atoi(line + 8);
			break;
		}
	fclose(f);
	return n;
}

/* Size of libgomp's idle pool, an upper bound: the team of our last region, less the main thread */
static int	pool_threads = 0;
#endif

/*
 * Make sure a team of n threads can run, and start it.  libgomp ends the
 * process with exit(1) when it cannot create a thread, so the threads it will
 * need are first created here with pthread_create, which reports failure:
 * they exit at once, the kernel releases them (the count of the process's
 * threads drops back), and then an empty parallel region grows libgomp's pool
 * to n threads, which the kernel's regions (at most n threads) reuse.  Only
 * another process of the same OS user taking the last slots in between
 * could still fail libgomp.  Returns 0; or an errno if a thread could not be
 * created (the pool is unchanged); or -1 if the region ran fewer than n
 * threads (*got says how many: OMP_THREAD_LIMIT).  Main thread only.
 */
int
cf_threads_start(int n, int *got)
{
#ifdef _OPENMP
	int			need;
	int			before;
	int			err = 0;

	*got = 1;
	if (n <= 1)
		return 0;
	omp_set_dynamic(0);
	if (omp_get_thread_limit() < n)
	{
		*got = omp_get_thread_limit();
		return -1;
	}

	/* threads libgomp will create: those not already idle in its pool */
	before = ProcessThreads();
	need = n - 1 - pool_threads;
	if (before > 0 && before - 1 < pool_threads)
		need = n - before;		/* pool threads that exited since */
	if (need > 0)
	{
		ProbeGate	gate;
		pthread_t  *tids = malloc(sizeof(pthread_t) * (size_t) need);
		int			made = 0;
		sigset_t	old;
		int			t;

		if (tids == NULL)
			return ENOMEM;
		pthread_mutex_init(&gate.lock, NULL);
		pthread_cond_init(&gate.cond, NULL);
		gate.go = 0;
		CfBlockSignals(&old);
		for (made = 0; made < need; made++)
			if ((err = pthread_create(&tids[made], NULL, ProbeThread, &gate)) != 0)
				break;
		CfRestoreSignals(&old);
		pthread_mutex_lock(&gate.lock);
		gate.go = 1;
		pthread_cond_broadcast(&gate.cond);
		pthread_mutex_unlock(&gate.lock);
		for (t = 0; t < made; t++)
			pthread_join(tids[t], NULL);
		free(tids);
		pthread_cond_destroy(&gate.cond);
		pthread_mutex_destroy(&gate.lock);

		/*
		 * A joined thread still counts against the process limit until the
		 * kernel has released it, just after: wait for that (up to 2 s).
		 */
		if (before > 0)
		{
			int			waited;

			for (waited = 0; ProcessThreads() > before && waited < 2000; waited++)
			{
				struct timespec ms = {0, 1000000};

				nanosleep(&ms, NULL);
			}
			if (err == 0 && ProcessThreads() > before)
				err = EAGAIN;
		}
		if (err != 0)
			return err;
	}

	/* The team, with every signal blocked in the threads it creates */
	{
		sigset_t	old;
		int			team = 0;

		CfBlockSignals(&old);
#pragma omp parallel num_threads(n)
		{
			int			nt;
			int			tid = CfThreadEnter(&old, &nt);

			if (tid == 0)
				team = nt;
		}
		CfRestoreSignals(&old);
		pool_threads = team - 1;
		*got = team;
		if (team < n)
			return -1;
	}
	return 0;
#else
	*got = 1;					/* no OpenMP: the regions run on this thread */
	return 0;
#endif
}
