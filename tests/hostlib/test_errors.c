/* SPDX-License-Identifier: MIT */
/* libsidecar-host keeps the cause of a failure (#21 item 3): the open
 * calls name the page and field a generated validator refused (through
 * struct sidecar_host_error and sidecar_host_last_error), and the linux
 * transport turns the errno of a failed system call into its own result
 * and text: no driver is not "nothing to wait for", permission denied is
 * not "invalid argument". The failing system calls are real ones on the
 * build machine (a missing path, a /proc/sys file root may not write, a
 * plain file, a directory); the bad pages are the simulator's, corrupted. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sidecar/host.h>
#include <sidecar/host_sim.h>

static struct sidecar_host host;

/* ---- the validators' message reaches the caller ------------------------ */

struct pages {
    struct sidecar_host_sim *sim;
    struct sidecar_host h;
    struct sidecar_host_transport t;
    struct sidecar_params params;
    struct sidecar_output output;
};

static struct pages *pages_open(void)
{
    struct pages *p = calloc(1, sizeof(*p));
    cr_assert_not_null(p);
    struct sidecar_host_sim_config cfg = { .node_count = 2, .cpus_per_node = 3, .main_cpu_per_node = true };
    cr_assert_eq(sidecar_host_sim_create(&cfg, &p->sim), 0);
    cr_assert_eq(sidecar_host_open_sim(&p->h, p->sim), 0);
    cr_assert_str_eq(sidecar_host_last_error(), "", "a successful open clears the last error");
    p->t = p->h.t;
    memcpy(&p->params, sidecar_host_sim_params(p->sim), sizeof(p->params));
    memcpy(&p->output, sidecar_host_sim_output(p->sim), sizeof(p->output));
    return p;
}

static void pages_close(struct pages *p)
{
    sidecar_host_close(&p->h);
    sidecar_host_sim_destroy(p->sim);
    free(p);
}

static struct sidecar_host other;

Test(errors, a_bad_params_field_is_named)
{
    struct pages *p = pages_open();
    p->params.cpus[1].role = 7;
    struct sidecar_host_error err;
    memset(&err, 0x55, sizeof(err));
    int rc = sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, &err);
    cr_assert_eq(rc, SIDECAR_HOST_E_INVALID);
    cr_assert_eq(err.code, rc);
    cr_assert_eq(err.sys_errno, 0);
    cr_assert(strncmp(err.text, "params: ", 8) == 0, "%s", err.text);
    cr_assert_not_null(strstr(err.text, "cpus[1]"), "%s", err.text);
    cr_assert_not_null(strstr(err.text, "role"), "%s", err.text);
    cr_assert_not_null(strstr(err.text, "cpu_role"), "%s", err.text);
    cr_assert_str_eq(sidecar_host_last_error(), err.text);
    /* The 0.3 call gives the same result and leaves the same text. */
    cr_assert_eq(sidecar_host_open(&other, &p->t, &p->params, &p->output), SIDECAR_HOST_E_INVALID);
    cr_assert_str_eq(sidecar_host_last_error(), err.text);
    cr_assert_eq(sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, NULL), SIDECAR_HOST_E_INVALID);
    pages_close(p);
}

Test(errors, an_abi_mismatch_says_which_page)
{
    struct pages *p = pages_open();
    struct sidecar_host_error err;
    p->output.abi_major = SIDECAR_ABI_MAJOR + 1;
    cr_assert_eq(sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, &err), SIDECAR_HOST_E_ABI);
    cr_assert(strncmp(err.text, "output: ABI major", 17) == 0, "%s", err.text);
    p->output.abi_major = SIDECAR_ABI_MAJOR;
    p->params.magic ^= 1;
    cr_assert_eq(sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, &err), SIDECAR_HOST_E_ABI);
    cr_assert(strncmp(err.text, "params: magic 0x", 16) == 0, "%s", err.text);
    pages_close(p);
}

Test(errors, a_misplaced_node_page_names_the_node)
{
    struct pages *p = pages_open();
    struct sidecar_host_error err;
    p->output.nodes[1].control_page = p->output.nodes[0].control_page;
    cr_assert_eq(sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, &err), SIDECAR_HOST_E_INVALID);
    cr_assert(strncmp(err.text, "output: nodes[1]: control_page", 30) == 0, "%s", err.text);
    pages_close(p);
}

Test(errors, a_null_transport_hook_is_named)
{
    struct pages *p = pages_open();
    struct sidecar_host_error err;
    p->t.send_ipi = NULL;
    cr_assert_eq(sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, &err), SIDECAR_HOST_E_INVALID);
    cr_assert_str_eq(err.text, "transport: send_ipi is NULL");
    cr_assert_eq(sidecar_host_open_ex(NULL, &p->t, &p->params, &p->output, &err), SIDECAR_HOST_E_INVALID);
    cr_assert_str_eq(err.text, "open: the handle is NULL");
    pages_close(p);
}

Test(errors, success_fills_an_empty_error)
{
    struct pages *p = pages_open();
    struct sidecar_host_error err;
    memset(&err, 0x55, sizeof(err));
    cr_assert_eq(sidecar_host_open_ex(&other, &p->t, &p->params, &p->output, &err), 0);
    cr_assert_eq(err.code, 0);
    cr_assert_eq(err.sys_errno, 0);
    cr_assert_str_eq(err.text, "");
    sidecar_host_close(&other);
    pages_close(p);
}

static void *fail_in_a_thread(void *arg)
{
    (void)arg;
    (void)sidecar_host_open_linux(&other, "/nonexistent/elsewhere");
    return strdup(sidecar_host_last_error());
}

Test(errors, the_last_error_is_per_thread)
{
    struct pages *p = pages_open();   /* this thread: "" */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fail_in_a_thread, NULL), 0);
    void *theirs;
    cr_assert_eq(pthread_join(th, &theirs), 0);
    cr_assert_not_null(strstr(theirs, "/nonexistent/elsewhere0"), "%s", (char *)theirs);
    cr_assert_str_eq(sidecar_host_last_error(), "", "another thread's failure is not this one's");
    free(theirs);
    pages_close(p);
}

/* ---- the linux transport keeps errno ------------------------------------ */

/* A temporary directory with <dir>/dev0 made by make(path); the prefix is
 * <dir>/dev. */
struct devdir {
    char dir[64];
    char prefix[96];
    char path[112];
};

static void devdir_make(struct devdir *d)
{
    snprintf(d->dir, sizeof(d->dir), "/tmp/sidecar-errors-XXXXXX");
    cr_assert_not_null(mkdtemp(d->dir));
    snprintf(d->prefix, sizeof(d->prefix), "%s/dev", d->dir);
    snprintf(d->path, sizeof(d->path), "%s0", d->prefix);
}

static void devdir_remove(struct devdir *d)
{
    unlink(d->path);
    rmdir(d->path);
    rmdir(d->dir);
}

Test(errors, no_driver_reads_driver_not_loaded)
{
    struct sidecar_host_error err;
    int rc = sidecar_host_open_linux_ex(&host, "/nonexistent/mshv_vtl_sidecar", &err);
    cr_assert_eq(rc, SIDECAR_HOST_E_NO_DEVICE);
    cr_assert_eq(err.code, rc);
    cr_assert_eq(err.sys_errno, ENOENT);
    cr_assert_not_null(strstr(err.text, "open /nonexistent/mshv_vtl_sidecar0"), "%s", err.text);
    cr_assert_not_null(strstr(err.text, strerror(ENOENT)), "%s", err.text);
    cr_assert_not_null(strstr(err.text, "driver is not loaded"), "%s", err.text);
    cr_assert_not_null(strstr(sidecar_host_strerror(rc), "driver is not loaded"));
    cr_assert_str_neq(sidecar_host_strerror(rc), sidecar_host_strerror(SIDECAR_HOST_E_NOTHING));
    cr_assert_eq(sidecar_host_cpu_count(&host), 0);
    /* The 0.3 call keeps its result; the text keeps the cause. */
    cr_assert_eq(sidecar_host_open_linux(&host, "/nonexistent/mshv_vtl_sidecar"), SIDECAR_HOST_E_NOTHING);
    cr_assert_str_eq(sidecar_host_last_error(), err.text);
}

Test(errors, permission_denied_reads_permission_denied)
{
    /* A file nobody may open for writing, root included: a read-only
     * sysctl (a mode-000 file would do only for a non-root user). */
    struct devdir d;
    devdir_make(&d);
    cr_assert_eq(symlink("/proc/sys/kernel/osrelease", d.path), 0);
    int probe = open(d.path, O_RDWR);
    int probe_errno = errno;
    if (probe >= 0)
        close(probe);
    if (probe >= 0 || probe_errno != EACCES) {
        devdir_remove(&d);
        cr_skip_test("opening a read-only sysctl for writing does not give EACCES here");
    }
    struct sidecar_host_error err;
    int rc = sidecar_host_open_linux_ex(&host, d.prefix, &err);
    cr_assert_eq(rc, SIDECAR_HOST_E_PERMISSION);
    cr_assert_eq(err.sys_errno, EACCES);
    cr_assert_not_null(strstr(err.text, d.path), "%s", err.text);
    cr_assert_not_null(strstr(err.text, strerror(EACCES)), "%s", err.text);
    cr_assert_str_eq(sidecar_host_strerror(rc), "permission denied");
    cr_assert_str_neq(sidecar_host_strerror(rc), sidecar_host_strerror(SIDECAR_HOST_E_INVALID));
    cr_assert_eq(sidecar_host_open_linux(&host, d.prefix), SIDECAR_HOST_E_INVALID);
    cr_assert_str_eq(sidecar_host_last_error(), err.text);
    devdir_remove(&d);
}

Test(errors, a_file_that_is_not_the_driver_names_the_ioctl)
{
    struct devdir d;
    devdir_make(&d);
    int fd = open(d.path, O_CREAT | O_RDWR, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    struct sidecar_host_error err;
    cr_assert_eq(sidecar_host_open_linux_ex(&host, d.prefix, &err), SIDECAR_HOST_E_INVALID);
    cr_assert_eq(err.sys_errno, ENOTTY);
    cr_assert_not_null(strstr(err.text, "NODE_INFO ioctl on"), "%s", err.text);
    cr_assert_not_null(strstr(err.text, "not the sidecar driver's device"), "%s", err.text);
    devdir_remove(&d);
}

Test(errors, another_errno_is_a_system_error)
{
    struct devdir d;
    devdir_make(&d);
    cr_assert_eq(mkdir(d.path, 0700), 0);   /* open(O_RDWR) of a directory: EISDIR */
    struct sidecar_host_error err;
    int rc = sidecar_host_open_linux_ex(&host, d.prefix, &err);
    cr_assert_eq(rc, SIDECAR_HOST_E_SYSTEM);
    cr_assert_eq(err.sys_errno, EISDIR);
    cr_assert_not_null(strstr(err.text, strerror(EISDIR)), "%s", err.text);
    cr_assert_eq(sidecar_host_open_linux(&host, d.prefix), SIDECAR_HOST_E_INVALID);
    devdir_remove(&d);
}

Test(errors, a_bad_argument_is_named)
{
    struct sidecar_host_error err;
    cr_assert_eq(sidecar_host_open_linux_ex(NULL, NULL, &err), SIDECAR_HOST_E_INVALID);
    cr_assert_str_eq(err.text, "open: the handle is NULL");
    char prefix[300];
    memset(prefix, 'a', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    cr_assert_eq(sidecar_host_open_linux_ex(&host, prefix, &err), SIDECAR_HOST_E_INVALID);
    cr_assert_not_null(strstr(err.text, "device prefix"), "%s", err.text);
}
