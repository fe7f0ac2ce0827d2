/* dkim_bench: signatures per second through hermod's DKIM signer, for
 * RSA-2048 and Ed25519, over a typical 3 KB transactional message:
 *   - with the parsed key kept in memory (what hermod does),
 *   - with the PEM parsed again for every message (what libopendkim does:
 *     the key is handed over as PEM text with each signing handle),
 *   - with the cached key shared by N threads (EVP_PKEY shared, one
 *     EVP_MD_CTX per signature).
 * bench/dkim_bench.sh runs it beside `openssl speed` and prints the ratio.
 *
 * Single-thread rates are per CPU second of the signing thread, so that a
 * busy machine does not skew the ratio to `openssl speed`.
 *
 *   dkim_bench [SECONDS_PER_CASE] [THREADS] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dkim/dkim_keys.h"
#include "dkim/dkim_sign.h"
#include "util/buf.h"

static struct buf message;
static double seconds = 2.0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
make_message(void)
{
	int i;

	buf_init(&message);
	buf_puts(&message,
	    "From: Shop <orders@shop.example>\r\n"
	    "To: customer@x.example\r\n"
	    "Subject: Your order #42 has shipped\r\n"
	    "Date: Thu, 26 Nov 2026 18:00:00 +0000\r\n"
	    "Message-ID: <20261126180000.42@shop.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "List-Unsubscribe: <https://shop.example/u/42>\r\n"
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n");
	for (i = 0; i < 40; i++)
		buf_printf(&message, "Line %02d of the order confirmation, with some  text in it.\r\n",
		    i);
}

struct job {
	struct dkim_key	*key;
	const char	*pem;		/* non-NULL: parse it for every signature */
	int		 algo;
	long		 count;
	double		 cpu;		/* CPU seconds this thread used */
};

static double
thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
run(void *arg)
{
	struct job *j = arg;
	struct buf out;
	char *err = NULL;
	double end = now() + seconds, cpu0 = thread_cpu();

	buf_init(&out);
	while (now() < end) {
		int k;

		for (k = 0; k < 16; k++) {
			struct dkim_key *key = j->key;

			if (j->pem != NULL && dkim_key_from_pem(&key, "shop.example", "s",
			    j->pem, strlen(j->pem), &err) != 0) {
				fprintf(stderr, "dkim_bench: %s\n", err);
				exit(1);
			}
			buf_reset(&out);
			if (dkim_sign(&key, 1, message.data, message.len, 1795716000LL, &out,
			    &err) != 0) {
				fprintf(stderr, "dkim_bench: %s\n", err);
				exit(1);
			}
			if (j->pem != NULL)
				dkim_key_free(key);
			j->count++;
		}
	}
	j->cpu = thread_cpu() - cpu0;
	buf_free(&out);
	return NULL;
}

/* bench() returns signatures per second: per CPU second of the signing
 * thread when threads is 1 (comparable with `openssl speed` on a busy
 * machine), per wall-clock second across all threads otherwise. */
static double
bench(struct dkim_key *key, const char *pem, int threads)
{
	pthread_t tid[64];
	struct job jobs[64];
	double t0 = now(), total = 0;
	int i;

	for (i = 0; i < threads; i++) {
		jobs[i] = (struct job){ .key = key, .pem = pem };
		pthread_create(&tid[i], NULL, run, &jobs[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		total += (double)jobs[i].count;
	}
	if (threads == 1)
		return total / jobs[0].cpu;
	return total / (now() - t0);
}

int
main(int argc, char **argv)
{
	static const int algos[] = { DKIM_ALGO_RSA, DKIM_ALGO_ED25519 };
	int threads = argc > 2 ? atoi(argv[2]) : 2, a;

	if (argc > 1)
		seconds = atof(argv[1]);
	if (threads < 1 || threads > 64)
		threads = 2;
	make_message();
	printf("message: %zu bytes, %.1f s per case\n", message.len, seconds);
	for (a = 0; a < 2; a++) {
		struct dkim_key *key;
		char *pem, *err = NULL;
		double cached, perpem, mt;

		if (dkim_keys_generate(algos[a], &pem, &err) != 0 ||
		    dkim_key_from_pem(&key, "shop.example", "s", pem, strlen(pem), &err) != 0) {
			fprintf(stderr, "dkim_bench: %s\n", err);
			return 1;
		}
		cached = bench(key, NULL, 1);
		perpem = bench(NULL, pem, 1);
		mt = bench(key, NULL, threads);
		printf("%s: %.0f sign/s cached key (%.3f ms), %.0f sign/s PEM per message "
		    "(%.3f ms, %.1fx slower), %.0f sign/s wall-clock on %d threads\n",
		    algos[a] == DKIM_ALGO_RSA ? "rsa-sha256 (RSA-2048)" : "ed25519-sha256",
		    cached, 1000.0 / cached, perpem, 1000.0 / perpem, cached / perpem, mt,
		    threads);
		dkim_key_free(key);
		free(pem);
	}
	buf_free(&message);
	return 0;
}
