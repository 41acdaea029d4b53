#include "server/pump.h"

#include "server/sandboxes.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_READ (16 * 1024)

void proc_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Keep `len` bytes of stream i (already text in text mode); the oldest
 * chunks go past output_max. Under the lock. */
static void keep_chunk(struct bgproc *p, int i, const unsigned char *data, size_t len)
{
	if (len == 0)
		return;
	struct chunk *c = malloc(sizeof *c + len);
	if (!c) { /* counted as dropped: the output is lost, not the daemon */
		p->dropped += len;
		p->end_pos += len;
		return;
	}
	c->next = NULL;
	c->pos = p->end_pos;
	c->len = len;
	c->stream = i;
	memcpy(c->data, data, len);
	if (p->tail)
		p->tail->next = c;
	else
		p->head = c;
	p->tail = c;
	p->end_pos += len;
	p->kept += len;
	while (p->kept > p->output_max && p->head != p->tail) {
		struct chunk *old = p->head;
		p->head = old->next;
		p->kept -= old->len;
		p->dropped += old->len;
		free(old);
	}
}

/* Output bytes of stream i: text mode keeps whole UTF-8 sequences, an
 * incomplete one carried to the next read (or replaced at the end). */
static void take_output(struct bgproc *p, int i, const unsigned char *data, size_t len,
                        bool final)
{
	p->bytes[i] += len;
	if (p->base64) {
		keep_chunk(p, i, data, len);
		return;
	}
	unsigned char joined[CHUNK_READ + 4];
	size_t n = p->n_carry[i];
	memcpy(joined, p->carry[i], n);
	memcpy(joined + n, data, len);
	n += len;
	size_t used = 0, text_len = 0;
	char *text = utf8_sanitize(joined, n, final, &used, &text_len);
	if (!text) {
		p->dropped += n;
		p->n_carry[i] = 0;
		return;
	}
	p->n_carry[i] = n - used;
	memcpy(p->carry[i], joined + used, p->n_carry[i]);
	keep_chunk(p, i, (const unsigned char *)text, text_len);
	free(text);
}

/* Read what stream i has (everything, until EAGAIN or EOF, with drain). */
static void pump_read(struct proc_table *t, struct bgproc *p, int i, bool drain)
{
	unsigned char buf[CHUNK_READ];
	while (p->out_fd[i] >= 0) {
		ssize_t n = read(p->out_fd[i], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			pthread_mutex_lock(&t->lock);
			take_output(p, i, buf, (size_t)n, false);
			pthread_cond_broadcast(&t->changed);
			pthread_mutex_unlock(&t->lock);
			if (drain)
				continue;
			return;
		}
		/* EOF, an error, or (draining) nothing more now: what the
		 * process left running may hold the pipe, we do not wait. */
		if (n == 0 || drain || errno != EAGAIN)
			proc_close_fd(&p->out_fd[i]);
		return;
	}
}

/* Write what is pending for stdin; close it after when asked. Under the lock. */
static void pump_write(struct bgproc *p)
{
	while (p->in_fd >= 0 && p->in_off < p->in_pending.len) {
		ssize_t w = write(p->in_fd, p->in_pending.data + p->in_off,
		                  p->in_pending.len - p->in_off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0) { /* EPIPE: the process closed its stdin */
			proc_close_fd(&p->in_fd);
			break;
		}
		p->in_off += (size_t)w;
	}
	p->in_pending.len = p->in_off = 0;
	if (p->in_eof)
		proc_close_fd(&p->in_fd);
}

void *proc_pump_main(void *arg)
{
	void **args = arg;
	struct proc_table *t = args[0];
	struct bgproc *p = args[1];
	free(arg);
	for (;;) {
		struct pollfd fds[5];
		int n = 0;
		pthread_mutex_lock(&t->lock);
		bool want_write = p->in_fd >= 0 && p->in_pending.len > p->in_off;
		if (p->in_fd >= 0 && p->in_eof && !want_write)
			proc_close_fd(&p->in_fd);
		pthread_mutex_unlock(&t->lock);
		fds[n++] = (struct pollfd){.fd = corral_process_pollfd(p->proc), .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = p->wake_fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = p->out_fd[0], .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = p->out_fd[1], .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = want_write ? p->in_fd : -1, .events = POLLOUT};
		int timeout = -1;
		if (p->deadline_ns) {
			uint64_t now = mono_ns();
			timeout = p->deadline_ns > now ? (int)((p->deadline_ns - now) / 1000000 + 1) : 0;
		}
		int got = poll(fds, (nfds_t)n, timeout);
		if (got < 0 && errno != EINTR)
			break; /* cannot happen with valid fds; end as lost below */
		if (p->deadline_ns && mono_ns() >= p->deadline_ns) {
			pthread_mutex_lock(&t->lock);
			p->timed_out = true;
			p->deadline_ns = 0;
			corral_process_signal(p->proc, SIGKILL, NULL);
			pthread_mutex_unlock(&t->lock);
		}
		if (got <= 0)
			continue;
		if (fds[1].revents) {
			uint64_t v;
			(void)!read(p->wake_fd, &v, sizeof v);
		}
		for (int i = 0; i < 2; i++)
			if (fds[2 + i].revents)
				pump_read(t, p, i, false);
		if (fds[4].revents) {
			pthread_mutex_lock(&t->lock);
			pump_write(p);
			pthread_mutex_unlock(&t->lock);
		}
		if (fds[0].revents)
			break;
	}
	for (int i = 0; i < 2; i++)
		pump_read(t, p, i, true);
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < 2; i++)
		take_output(p, i, (const unsigned char *)"", 0, true);
	corral_error err = {0};
	if (corral_process_wait(p->proc, 0, &p->st, &err) < 0 ||
	    p->st.state == CORRAL_PROCESS_RUNNING)
		p->st.state = CORRAL_PROCESS_LOST;
	proc_close_fd(&p->in_fd);
	p->ended = true;
	p->ended_ms = now_realtime_ms();
	pthread_cond_broadcast(&t->changed);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}
