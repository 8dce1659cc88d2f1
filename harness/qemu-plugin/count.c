/*
 * a64call counting plugin for qemu-aarch64 (linux-user, plugin API version >= 2).
 *
 * Counts executed guest instructions exactly, per translated block, with one inline counter per
 * block (a per-vCPU scoreboard entry that the block adds 1 to on entry), and reports the counts of
 * marked phases of the guest run.
 *
 * Marker: the guest calls syscall getppid (aarch64 nr 173) with x0 = COUNT_MAGIC and x1 =
 * MARK_BEGIN or MARK_END (the kernel ignores the arguments; harness/cinderx/a64count.py does it
 * through ctypes). Ordinary getppid calls carry no magic and are ignored. A begin marker starts a
 * phase (numbered 1, 2, ... per process); the next end marker ends it, and the phase's counts are
 * appended to OUTDIR/counts-<pid>.txt. A phase spans from the return of the begin marker's syscall
 * to the end marker's syscall instruction (inclusive), so it holds a small constant number of
 * marker instructions.
 *
 * Output, one record per line (all numbers decimal unless noted):
 *   a64count 1                               format version, first line of the file
 *   phase <n> begin                          a phase starts (the records below belong to it)
 *   block <vaddr hex> <insns> <execs>        a block executed in the phase
 *   insn <vaddr hex> <word hex> <prev> <execs>
 *                                            an instruction of interest (bl, blr, br, ldr literal)
 *                                            in the block above: its word, the word of the
 *                                            instruction before it in the block (hex, or `-` when
 *                                            it is the block's first), its executions
 *   phase <n> end <total insns>              the phase's total (sum of insns * execs)
 *   exit <total insns>                       at process exit: instructions executed in the whole run
 * A phase still open at exit is reported with `phase <n> open <total>` instead of `end`.
 *
 * Executions are block entries, so an instruction's count includes block entries that stopped
 * early on a fault or signal inside the block (rare in user mode; not seen in Python runs).
 *
 * Blocks are keyed by address and contents, so code rewritten at the same address (a JIT reusing
 * memory) gets its own record, and a block translated again after a translation-cache flush keeps
 * its counter.
 *
 * Plugin arguments: outdir=DIR (required).
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/** aarch64 Linux syscall number of getppid, used as the phase marker. */
#define MARKER_SYSCALL 173
/** x0 of a marker syscall. */
#define COUNT_MAGIC 0xA64CA11u
/** x1 of a begin marker. */
#define MARK_BEGIN 1
/** x1 of an end marker. */
#define MARK_END 2
/** Format version written on the first line of every output file. */
#define FORMAT_VERSION 1

/* Instruction classes worth recording (encoding masks from the Arm ARM). */
#define BL_MASK 0xFC000000u
#define BL_BITS 0x94000000u
#define BR_BLR_MASK 0xFFFFFC1Fu
#define BLR_BITS 0xD63F0000u
#define BR_BITS 0xD61F0000u
/** Every load-literal form: ldr w/x/s/d/q, ldrsw, prfm (literal). */
#define LDR_LITERAL_MASK 0x3B000000u
#define LDR_LITERAL_BITS 0x18000000u

/** An instruction of interest inside a block. */
struct interesting {
    uint64_t vaddr;
    uint32_t word;
    uint32_t prev;     /* word of the instruction before it in the block */
    bool has_prev;     /* false when it is the block's first instruction */
};

/** One block: its address and contents (the key), its counter and its interesting instructions. */
struct block {
    uint64_t vaddr;
    size_t n_insns;
    uint32_t *words;
    struct qemu_plugin_scoreboard *score;  /* one uint64_t per vCPU: block entries */
    uint64_t base;                         /* sum of the counter when the current phase began */
    size_t n_interesting;
    struct interesting *interesting;
};

static GHashTable *blocks;  /* struct block * -> itself, keyed by (vaddr, words) */
static GMutex lock;         /* guards blocks and the phase state */
static char *outdir;
static unsigned phase_no;   /* number of the current or last phase; 0 before the first */
static bool in_phase;

static bool is_interesting(uint32_t w)
{
    return (w & BL_MASK) == BL_BITS || (w & BR_BLR_MASK) == BLR_BITS ||
           (w & BR_BLR_MASK) == BR_BITS || (w & LDR_LITERAL_MASK) == LDR_LITERAL_BITS;
}

static guint block_hash(gconstpointer p)
{
    const struct block *b = p;
    guint h = (guint)(b->vaddr ^ (b->vaddr >> 32)) * 31u + (guint)b->n_insns;
    for (size_t i = 0; i < b->n_insns; i++) {
        h = h * 1000003u ^ b->words[i];
    }
    return h;
}

static gboolean block_equal(gconstpointer pa, gconstpointer pb)
{
    const struct block *a = pa, *b = pb;
    return a->vaddr == b->vaddr && a->n_insns == b->n_insns &&
           memcmp(a->words, b->words, a->n_insns * sizeof(uint32_t)) == 0;
}

static uint64_t block_execs(const struct block *b)
{
    return qemu_plugin_u64_sum(qemu_plugin_scoreboard_u64(b->score));
}

/* Read one translated instruction's 32-bit word (aarch64 instructions are 4 bytes). */
static uint32_t insn_word(const struct qemu_plugin_insn *insn)
{
    uint32_t w = 0;
    qemu_plugin_insn_data(insn, &w, sizeof(w));
    return w;
}

/* Build a block record for a translation, without a counter yet. */
static struct block *describe(struct qemu_plugin_tb *tb)
{
    struct block *b = g_new0(struct block, 1);
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->n_insns = qemu_plugin_tb_n_insns(tb);
    b->words = g_new(uint32_t, b->n_insns);
    for (size_t i = 0; i < b->n_insns; i++) {
        b->words[i] = insn_word(qemu_plugin_tb_get_insn(tb, i));
    }
    return b;
}

static void block_free(struct block *b)
{
    if (b->score) {
        qemu_plugin_scoreboard_free(b->score);
    }
    g_free(b->interesting);
    g_free(b->words);
    g_free(b);
}

/* Give a new record its counter and its list of interesting instructions. */
static void complete(struct block *b, struct qemu_plugin_tb *tb)
{
    b->score = qemu_plugin_scoreboard_new(sizeof(uint64_t));
    b->interesting = g_new(struct interesting, b->n_insns);
    for (size_t i = 0; i < b->n_insns; i++) {
        if (!is_interesting(b->words[i])) {
            continue;
        }
        struct interesting *x = &b->interesting[b->n_interesting++];
        x->vaddr = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i));
        x->word = b->words[i];
        x->has_prev = i > 0;
        x->prev = i > 0 ? b->words[i - 1] : 0;
    }
}

static void on_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    struct block *probe = describe(tb);
    g_mutex_lock(&lock);
    struct block *b = g_hash_table_lookup(blocks, probe);
    if (b) {
        block_free(probe);
    } else {
        b = probe;
        complete(b, tb);
        /* A block first seen inside a phase started the phase at zero. */
        b->base = 0;
        g_hash_table_add(blocks, b);
    }
    g_mutex_unlock(&lock);
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
        tb, QEMU_PLUGIN_INLINE_ADD_U64, qemu_plugin_scoreboard_u64(b->score), 1);
}

static FILE *open_output(void)
{
    g_autofree char *path = g_strdup_printf("%s/counts-%d.txt", outdir, (int)getpid());
    bool fresh = access(path, F_OK) != 0;
    FILE *f = fopen(path, "a");
    if (!f) {
        g_autofree char *msg = g_strdup_printf("a64count: cannot write %s: %s\n", path,
                                               strerror(errno));
        qemu_plugin_outs(msg);
        return NULL;
    }
    if (fresh) {
        fprintf(f, "a64count %d\n", FORMAT_VERSION);
    }
    return f;
}

static void begin_phase(void)
{
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, blocks);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        struct block *b = key;
        b->base = block_execs(b);
    }
    phase_no++;
    in_phase = true;
}

/* Write the current phase's records; `state` is "end" or "open". */
static void write_phase(const char *state)
{
    FILE *f = open_output();
    if (!f) {
        return;
    }
    uint64_t total = 0;
    fprintf(f, "phase %u begin\n", phase_no);
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, blocks);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        struct block *b = key;
        uint64_t execs = block_execs(b) - b->base;
        if (execs == 0) {
            continue;
        }
        total += execs * b->n_insns;
        fprintf(f, "block %" PRIx64 " %zu %" PRIu64 "\n", b->vaddr, b->n_insns, execs);
        for (size_t i = 0; i < b->n_interesting; i++) {
            const struct interesting *x = &b->interesting[i];
            if (x->has_prev) {
                fprintf(f, "insn %" PRIx64 " %08" PRIx32 " %08" PRIx32 " %" PRIu64 "\n", x->vaddr,
                        x->word, x->prev, execs);
            } else {
                fprintf(f, "insn %" PRIx64 " %08" PRIx32 " - %" PRIu64 "\n", x->vaddr, x->word,
                        execs);
            }
        }
    }
    fprintf(f, "phase %u %s %" PRIu64 "\n", phase_no, state, total);
    fclose(f);
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8)
{
    (void)id; (void)vcpu; (void)a3; (void)a4; (void)a5; (void)a6; (void)a7; (void)a8;
    if (num != MARKER_SYSCALL || a1 != COUNT_MAGIC) {
        return;
    }
    g_mutex_lock(&lock);
    if (a2 == MARK_BEGIN && !in_phase) {
        begin_phase();
    } else if (a2 == MARK_END && in_phase) {
        write_phase("end");
        in_phase = false;
    } else {
        g_autofree char *msg = g_strdup_printf(
            "a64count: pid %d: ignored marker %" PRIu64 " (phase %u is %s)\n", (int)getpid(), a2,
            phase_no, in_phase ? "open" : "closed");
        qemu_plugin_outs(msg);
    }
    g_mutex_unlock(&lock);
}

static void on_process_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id; (void)udata;
    g_mutex_lock(&lock);
    if (in_phase) {
        write_phase("open");
        in_phase = false;
    }
    uint64_t total = 0;
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, blocks);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        struct block *b = key;
        total += block_execs(b) * b->n_insns;
    }
    FILE *f = open_output();
    if (f) {
        fprintf(f, "exit %" PRIu64 "\n", total);
        fclose(f);
    }
    g_mutex_unlock(&lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    if (strcmp(info->target_name, "aarch64") != 0) {
        fprintf(stderr, "a64count: target is %s, only aarch64 is supported\n", info->target_name);
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (g_str_has_prefix(argv[i], "outdir=")) {
            outdir = g_strdup(argv[i] + strlen("outdir="));
        } else {
            fprintf(stderr, "a64count: unknown argument %s (expected outdir=DIR)\n", argv[i]);
            return -1;
        }
    }
    if (!outdir || !*outdir) {
        fprintf(stderr, "a64count: missing argument outdir=DIR\n");
        return -1;
    }
    blocks = g_hash_table_new(block_hash, block_equal);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, on_process_exit, NULL);
    return 0;
}
