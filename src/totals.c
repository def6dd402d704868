#include "pilemix/totals.h"

#include "pilemix/summary.h"
#include "pilemix/dedup.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(pm_file_result_t) % sizeof(uint64_t) == 0, "file results reduce as words");
_Static_assert(sizeof(pm_task_stats_t) % sizeof(uint64_t) == 0, "stats reduce as words");

size_t pm_totals_words(const pm_totals_t *t)
{
    return t->n_components * (PM_TASK_STATS_WORDS + 2 * PM_SPLIT_COUNT) +
           t->n_files * PM_FILE_RESULT_WORDS + 4 + pm_dedup_counts_words(t->n_components);
}

int pm_totals_init(pm_totals_t *t, size_t n_components, size_t n_files)
{
    memset(t, 0, sizeof *t);
    t->n_components = n_components;
    t->n_files = n_files;
    t->words = calloc(pm_totals_words(t), sizeof(uint64_t));
    if (!t->words)
        return PM_ENOMEM;
    uint64_t *p = t->words;
    t->comp = (pm_task_stats_t *)p;
    p += n_components * PM_TASK_STATS_WORDS;
    t->emitted = (uint64_t(*)[PM_SPLIT_COUNT])p;
    p += n_components * PM_SPLIT_COUNT;
    t->dups = (uint64_t(*)[PM_SPLIT_COUNT])p;
    p += n_components * PM_SPLIT_COUNT;
    t->files = (pm_file_result_t *)p;
    p += n_files * PM_FILE_RESULT_WORDS;
    t->passes = p++;
    t->files_reused = p++;
    t->tasks_reused = p++;
    t->canary_docs = p++;
    t->dedup = (pm_dedup_counts_t){n_components, p};
    return 0;
}

void pm_totals_free(pm_totals_t *t)
{
    free(t->words);
    memset(t, 0, sizeof *t);
}

void pm_totals_add_file(pm_totals_t *t, const pm_layout_t *layout, uint32_t file,
                        const pm_gather_out_t *out)
{
    pm_split_t split = pm_layout_file_split(layout, file);
    t->files[file] = out->result;
    for (size_t c = 0; c < t->n_components; c++) {
        t->emitted[c][split] += out->comp_docs[c];
        t->dups[c][split] += out->comp_dups[c];
    }
    *t->passes += out->passes;
    *t->canary_docs += out->canaries;
}

double pm_totals_realized_epochs(const pm_totals_t *t, size_t c)
{
    uint64_t docs = t->comp[c].split_docs[PM_SPLIT_TRAIN];
    return docs ? (double)t->comp[c].train_copies / (double)docs : 0.0;
}

double pm_totals_realized_share(const pm_totals_t *t, size_t c)
{
    uint64_t all = 0;
    for (size_t k = 0; k < t->n_components; k++)
        all += t->comp[k].train_copy_bytes;
    return all ? (double)t->comp[c].train_copy_bytes / (double)all : 0.0;
}

int pm_totals_check(const pm_job_t *job, const pm_totals_t *t, pm_error_t *err)
{
    uint64_t file_docs[PM_SPLIT_COUNT] = {0, 0, 0}, comp_docs[PM_SPLIT_COUNT] = {0, 0, 0};
    for (size_t f = 0; f < t->n_files; f++)
        file_docs[pm_layout_file_split(&job->layout, (uint32_t)f)] += t->files[f].docs;
    for (size_t c = 0; c < t->n_components; c++) {
        const pm_task_stats_t *s = &t->comp[c];
        const char *name = job->cfg->components[c].name;
        uint64_t accounted = s->rejected_total + s->empty_docs + s->filtered_total +
                             s->split_docs[0] + s->split_docs[1] + s->split_docs[2];
        uint64_t by_reason = 0;
        for (int r = 1; r < PM_FILTER_REASONS; r++)
            by_reason += s->filtered[r];
        if (by_reason != s->filtered_total)
            return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                                "accounting: component \"%s\" filtered %llu documents but %llu "
                                "by reason (a pilemix bug)",
                                name, (unsigned long long)s->filtered_total,
                                (unsigned long long)by_reason);
        if (accounted != s->docs)
            return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                                "accounting: component \"%s\" read %llu documents but accounts "
                                "for %llu (a pilemix bug)",
                                name, (unsigned long long)s->docs, (unsigned long long)accounted);
        /* Exact dedup: a loser's copies were decided, then dropped. */
        uint64_t dropped = *pm_dedup_copies(&t->dedup, c);
        if (t->emitted[c][PM_SPLIT_TRAIN] + dropped != s->train_copies)
            return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                                "accounting: component \"%s\" decided %llu train copies but %llu "
                                "were written and %llu dropped as duplicates (a pilemix bug)",
                                name, (unsigned long long)s->train_copies,
                                (unsigned long long)t->emitted[c][PM_SPLIT_TRAIN],
                                (unsigned long long)dropped);
        for (int sp = PM_SPLIT_VAL; sp <= PM_SPLIT_TEST; sp++)
            if (t->emitted[c][sp] + t->dups[c][sp] + pm_dedup_lost(&t->dedup, c)[sp] !=
                s->split_docs[sp])
                return pm_error_set(
                    err, PM_EINTERNAL, NULL, 0,
                    "accounting: component \"%s\" held out %llu documents for %s "
                    "but wrote %llu and dropped %llu duplicates (a pilemix bug)",
                    name, (unsigned long long)s->split_docs[sp], pm_split_name(sp),
                    (unsigned long long)t->emitted[c][sp],
                    (unsigned long long)(t->dups[c][sp] + pm_dedup_lost(&t->dedup, c)[sp]));
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
            comp_docs[sp] += t->emitted[c][sp];
    }
    /* Canaries are no component's: the train files hold them besides. */
    if (*t->canary_docs != job->canaries.n)
        return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                            "accounting: %llu canaries asked for, %llu written (a pilemix bug)",
                            (unsigned long long)job->canaries.n,
                            (unsigned long long)*t->canary_docs);
    comp_docs[PM_SPLIT_TRAIN] += *t->canary_docs;
    for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
        if (comp_docs[sp] != file_docs[sp])
            return pm_error_set(err, PM_EINTERNAL, NULL, 0,
                                "accounting: components wrote %llu documents to %s but the files "
                                "hold %llu (a pilemix bug)",
                                (unsigned long long)comp_docs[sp], pm_split_name(sp),
                                (unsigned long long)file_docs[sp]);
    return 0;
}

void pm_totals_print_summary(const pm_job_t *job, const pm_totals_t *t, FILE *out)
{
    pm_summary_t s;
    if (pm_summary_init(&s, t->n_components) < 0) {
        fputs("(out of memory printing the summary)\n", out);
        return;
    }
    for (size_t c = 0; c < t->n_components; c++) {
        const pm_task_stats_t *st = &t->comp[c];
        pm_summary_row_t *r = &s.rows[c];
        r->name = job->cfg->components[c].name;
        r->docs = st->docs;
        r->text_bytes = st->text_bytes;
        for (int sp = 0; sp < PM_SPLIT_COUNT; sp++)
            r->emitted[sp] = t->emitted[c][sp];
        r->rejected = st->rejected_total;
        r->empty_docs = st->empty_docs;
        r->blank_lines = st->blank_lines;
        r->epochs = job->cfg->components[c].epochs;
        r->realized = pm_totals_realized_epochs(t, c);
        r->share_asked = job->cfg->components[c].share;
        r->share_realized = pm_totals_realized_share(t, c);
        r->has_filter = job->cfg->components[c].filter != NULL;
        r->filtered = st->filtered_total;
        memcpy(r->filtered_by, st->filtered, sizeof r->filtered_by);
        const uint64_t *lost = pm_dedup_lost(&t->dedup, c);
        r->dedup_dups = lost[0] + lost[1] + lost[2];
    }
    s.shares = pm_config_has_shares(job->cfg);
    s.n_files = t->n_files;
    s.canaries = *t->canary_docs;
    s.dedup = job->cfg->dedup == PM_DEDUP_EXACT;
    for (size_t f = 0; f < t->n_files; f++) {
        s.zst_bytes += t->files[f].zst_bytes;
        s.raw_bytes += t->files[f].raw_bytes;
    }
    pm_summary_print(&s, out);
    pm_summary_free(&s);
}

/* The most frequent reject reason of s (0 when none). */
static int main_reason(const pm_task_stats_t *s)
{
    int best = 0;
    for (int r = 1; r < PM_REC_STATUS_COUNT; r++)
        if (s->rejected[r] > (best ? s->rejected[best] : 0))
            best = r;
    return best;
}

static const char *reason_hint(const pm_component_cfg_t *cc, int reason)
{
    if (reason == PM_REC_NO_TEXT)
        return cc->text_key && strcmp(cc->text_key, "text") ? "; is text_key right?"
                                                            : "; is the text under another "
                                                              "key (text_key: \"content\" for "
                                                              "The Stack, \"raw_content\" for "
                                                              "RedPajama)?";
    if (reason == PM_REC_BAD_JSON || reason == PM_REC_BAD_UTF8)
        return "; is the file what its name says (see the rejects)?";
    return "";
}

int pm_totals_check_inputs(const pm_job_t *job, const pm_task_stats_t *comp, pm_error_t *err)
{
    const pm_config_t *cfg = job->cfg;
    for (size_t c = 0; c < cfg->n_components; c++) {
        const pm_task_stats_t *s = &comp[c];
        const pm_component_cfg_t *cc = &cfg->components[c];
        uint64_t kept = s->split_docs[0] + s->split_docs[1] + s->split_docs[2];
        int why = main_reason(s);
        if (kept == 0) {
            size_t files = 0;
            for (size_t f = 0; f < job->plan->n_files; f++)
                files += job->plan->files[f].component == c;
            char reason[256];
            if (why)
                snprintf(reason, sizeof reason, "mostly %s (%llu of %llu bad records)%s",
                         pm_record_status_name(why), (unsigned long long)s->rejected[why],
                         (unsigned long long)s->rejected_total, reason_hint(cc, why));
            else if (s->skipped_files)
                snprintf(reason, sizeof reason, "%llu bad file%s skipped (see the rejects)",
                         (unsigned long long)s->skipped_files, s->skipped_files == 1 ? "" : "s");
            else if (s->filtered_total) {
                int fr = 1;
                for (int r = 2; r < PM_FILTER_REASONS; r++)
                    if (s->filtered[r] > s->filtered[fr])
                        fr = r;
                snprintf(reason, sizeof reason,
                         "its filter dropped all %llu documents, mostly %s (%llu); is "
                         "components[%zu].filter's field right?",
                         (unsigned long long)s->filtered_total, pm_filter_reason_name(fr),
                         (unsigned long long)s->filtered[fr], c);
            } else if (s->empty_docs)
                snprintf(reason, sizeof reason, "all %llu documents have an empty text",
                         (unsigned long long)s->empty_docs);
            else
                snprintf(reason, sizeof reason, "its files hold no document (%llu blank lines)",
                         (unsigned long long)s->blank_lines);
            return pm_error_set(err, PM_EDATA, NULL, 0,
                                "component \"%s\" yielded no document from %zu file%s: %s",
                                cc->name, files, files == 1 ? "" : "s", reason);
        }
        if (cfg->on_bad_record == PM_ON_BAD_SKIP && s->docs &&
            (double)s->rejected_total > cfg->max_bad_fraction * (double)s->docs) {
            char frac[32];
            snprintf(frac, sizeof frac, "%g%%", 100.0 * cfg->max_bad_fraction);
            return pm_error_set(
                err, PM_EDATA, NULL, 0,
                "component \"%s\": %llu of its %llu documents (%.1f%%) are bad records, more than "
                "run.max_bad_fraction (%s); mostly %s (%llu)%s",
                cc->name, (unsigned long long)s->rejected_total, (unsigned long long)s->docs,
                100.0 * (double)s->rejected_total / (double)s->docs, frac,
                pm_record_status_name(why), (unsigned long long)s->rejected[why],
                reason_hint(cc, why));
        }
    }
    return 0;
}
