/*
 * Whether an incremental pass may skip a folder without selecting it: a
 * pure decision from the folder's checkpoint and what STATUS says now on
 * both sides (RFC 3501 section 6.3.10; HIGHESTMODSEQ, RFC 7162 section
 * 3.1.3). A folder is skipped only when it is provably what it was when
 * the last pass finished it, on both sides:
 *
 *   - the checkpoint is clean, holds no pending message (refused, over
 *     the size cap, unlistable: those are retried by every pass) and
 *     recorded both folders' STATUS when it was written;
 *   - UIDVALIDITY is the same on both sides (else everything is matched
 *     again);
 *   - UIDNEXT and MESSAGES are the same on both sides: nothing arrived,
 *     nothing was expunged (an expunge and an arrival together still move
 *     UIDNEXT);
 *   - HIGHESTMODSEQ is the same on both sides, and known: it moves with
 *     every flag change (RFC 7162 section 3.1.1). A side without CONDSTORE
 *     (or answering 0, no mod-sequences kept) cannot show that its flags
 *     stayed the same, so the folder is never skipped there: the full
 *     path and its flag sync run, as before this check existed.
 *
 * What STATUS cannot see (a message's flags changed and changed back) is
 * what a full pass would not change either.
 *
 * A folder never copied from is settled by STATUS too when the source
 * says it holds no message (mf__folder_empty_new()): a first pass over
 * an empty folder has nothing to list, recognise or copy, so the two
 * STATUS answers are all the checkpoint needs. Its target folder exists
 * (the mailbox's folders were created before any was copied, and the
 * target answered STATUS about it). A message that arrives after the
 * STATUS is above the checkpoint's last UID, 0, and the next pass sees
 * MESSAGES and UIDNEXT move and copies it. A checkpoint that got past UID
 * 0, or that saw another UIDVALIDITY, goes the full way: it has copies
 * and flags to account for.
 */
#include "migrate/migrate_int.h"

const char *
mf__folder_changed(const struct mf_checkpoint *ck, bool found,
                   const struct mf_store_status *src,
                   const struct mf_store_status *dst) {
    if (!found)
        return "no checkpoint";
    if (ck->dirty)
        return "the last pass stopped in it";
    if (!ck->has_status)
        return "the checkpoint has no STATUS";
    if (ck->n_pending)
        return "messages are pending";
    if (ck->uidvalidity == 0 || src->uidvalidity != ck->uidvalidity)
        return "source UIDVALIDITY";
    if (ck->tgt_uidvalidity == 0 || dst->uidvalidity != ck->tgt_uidvalidity)
        return "target UIDVALIDITY";
    if (src->uidnext == 0 || src->uidnext != ck->src_status.uidnext)
        return "source UIDNEXT";
    if (src->messages != ck->src_status.messages)
        return "source MESSAGES";
    if (dst->uidnext == 0 || dst->uidnext != ck->tgt_status.uidnext)
        return "target UIDNEXT";
    if (dst->messages != ck->tgt_status.messages)
        return "target MESSAGES";
    if (src->highestmodseq == 0 || ck->src_status.highestmodseq == 0)
        return "no source HIGHESTMODSEQ";
    if (src->highestmodseq != ck->src_status.highestmodseq)
        return "source HIGHESTMODSEQ";
    if (dst->highestmodseq == 0 || ck->tgt_status.highestmodseq == 0)
        return "no target HIGHESTMODSEQ";
    if (dst->highestmodseq != ck->tgt_status.highestmodseq)
        return "target HIGHESTMODSEQ";
    return NULL;
}

bool
mf__folder_empty_new(const struct mf_checkpoint *ck, bool found,
                     const struct mf_store_status *src,
                     const struct mf_store_status *dst) {
    if (src->uidvalidity == 0 || src->messages != 0 || dst->uidvalidity == 0)
        return false;
    if (!found)
        return true;
    return !ck->dirty && ck->n_pending == 0 && ck->last_uid == 0 &&
           ck->out_messages == 0 && ck->uidvalidity == src->uidvalidity &&
           (ck->tgt_uidvalidity == 0 ||
            ck->tgt_uidvalidity == dst->uidvalidity);
}
