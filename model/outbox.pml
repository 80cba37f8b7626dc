/*
 * The delivery protocol of the webhook ingress, as a Promela model for spin.
 *
 * Every step names the Rust function that performs it; docs/MODEL.md maps them both ways and says
 * what is proven, under which bounds. model/check.sh runs every configuration and every known-wrong
 * variant (the WRONG_* defines): it must find a counterexample for each variant and none for the
 * real protocol.
 *
 * The world: two sources, A and B, share one outbox table; each has its own queue, ingress and
 * sweeper. Each source receives one event, and both use the same event id, so the keys "A:e"
 * (row A) and "B:e" (row B) differ only by their source: a row's index is its source, and so is a
 * queue's. With ROUTES, "its queue" is the event's destination, chosen once by its source's routes
 * when the event is first accepted and recorded in the row (a route's queue or QUEUE_URL): the
 * model's queue q stands for the source's queues, and a route number (0 or 1) says which of them.
 * With ROUTE_MAY_CHANGE a delivery may compute another route than the one before it (ROUTES
 * changed in between, or a header route's header differs between deliveries).
 * Bodies are small numbers: 1 is the provider's body, 2 another body under the same id. A body
 * that finds another body under its id is recorded under a key of its own, "A:e#<its hash>"
 * (AcceptedEvent::conflicting): the keys CK(1) and CK(2), rows of source A like "A:e".
 *
 * Each process is a state machine (its local `pc`) whose every step is one atomic transition: one
 * AWS call with its effect and what the caller does with the answer. Between two steps every other
 * process may run, which is where the interleavings come from; a call has no duration here, but
 * a call that timed out after taking effect (GHOST) is the same as a slow call for the caller.
 *
 * Faults: every AWS call may fail before taking effect (LOST) or after (GHOST: it took effect but
 * the caller sees an error or a timeout); every process may crash between any two steps; the
 * unsent index may answer stale; TTL may delete any row whose expiry is set, at any moment.
 * Faults and crashes come from global budgets (MAX_FAULTS, MAX_CRASHES): once spent, everything
 * works, which is the fairness the liveness property assumes ("failures stop eventually").
 */

/* ---- bounds (check.sh sets them per configuration) ---- */
#ifndef MAX_FAULTS
#define MAX_FAULTS 2      /* failed AWS calls and stale index answers, all processes together */
#endif
#ifndef MAX_CRASHES
#define MAX_CRASHES 1     /* process crashes, all processes together */
#endif
#ifndef MAX_ATTEMPTS
#define MAX_ATTEMPTS 2    /* the sweeper's MAX_ATTEMPTS (10 in production) */
#endif
#ifndef MAX_TRIES
#define MAX_TRIES 2       /* deliveries by one provider process (first try + retries) */
#endif
#ifndef ONCALL_OPS
#define ONCALL_OPS 2      /* outboxctl commands run during the model */
#endif
#ifndef SWEEPERS_A
#define SWEEPERS_A 2      /* concurrent sweepers of source A */
#endif

#define NR 2              /* sources, and their queues */
#define A 0
#define B 1
#define NK 4              /* outbox keys: "A:e", "B:e", then "A:e#h1" and "A:e#h2" */
#define CK(b) (1 + (b))   /* the key body b gets beside another body under A's id */
#define SRC(k) ((k) == B -> B : A)   /* the source a key belongs to */

/* row status (shared::outbox::RowStatus, plus the absence of the row) */
#define NONE      0
#define PENDING   1
#define SENT      2
#define PARKED    3
#define DISCARDED 4

/* what an AWS call did */
#define OK    0           /* took effect, the caller sees success */
#define LOST  1           /* failed or timed out before taking effect */
#define GHOST 2           /* took effect, then failed or timed out: the caller sees an error */

/* ---- the world ---- */
byte st[NK];            /* the outbox row: status */
byte dst[NK];           /* the outbox row: its destination (route 0 or 1 of its source) */
byte body[NK];          /* the outbox row: body (0: none) */
byte att[NK];           /* the outbox row: attempts */
bool expiry[NK];        /* the outbox row: expires_at is set (TTL may delete it) */
byte mq[NR];            /* copies of the source's events on its main queue (saturates at 2) */
byte dq[NR];            /* copies on its source's DLQ */
byte faults;            /* spent fault budget */
byte crashes;           /* spent crash budget */
hidden byte o;          /* an AWS call's outcome, used within one atomic step only */

/* ---- ghost state for the properties (no process reads it to decide anything) ---- */
byte sent_bodies[NK];   /* bit b: a message with body b for this key reached its own source's queue */
bool ok2xx[NR];         /* the ingress answered 2xx for an event of this source */
byte first_body[NK];    /* the body of the first row written for the key (P4) */
byte first_dst[NK];     /* the destination of the first row written for the key (P1) */
bool forgotten[NK];     /* TTL deleted the key's row: its retention window is over (P4 stops) */
bool discarded[NK];     /* on-call discarded the key's row (its own, audited decision) */
bool discard_redelivered;  /* a delivery found its event's row discarded (REACH_DISCARD_REDELIVERED) */
bool rerouted_duplicate;   /* a redelivery of a pending row computed another route than the row's */
bool newer_row_kept;       /* mark_sent's condition refused a newer pending row under its key (REACH_NEWER_ROW) */

#define everq(r)     (sent_bodies[r] != 0)
#define body_sent(r) ((sent_bodies[r] >> body[r]) & 1)   /* the row's body is on the queue (never for body 0) */

/* P4: body b of source s is durable under key k: in k's row (pending, sent or parked), or on the
 * source's queue, or k's row was discarded by on-call. */
#define kept_under(k, s, b) (SRC(k) == (s) && ((st[k] != NONE && body[k] == (b)) || ((sent_bodies[k] >> (b)) & 1) || discarded[k]))
#define body_durable(s, b) (kept_under(0, s, b) || kept_under(1, s, b) || kept_under(2, s, b) || kept_under(3, s, b))

/* ---- fault injection ---- */
inline aws_call() {     /* a write: SendMessage, PutItem, UpdateItem, DeleteMessage */
  if
  :: o = OK
  :: faults < MAX_FAULTS -> faults++; o = LOST
  :: faults < MAX_FAULTS -> faults++; o = GHOST
  fi
}

inline aws_read() {     /* a read: Query, BatchGetItem, GetItem, ReceiveMessage (an error has no effect) */
  if
  :: o = OK
  :: faults < MAX_FAULTS -> faults++; o = LOST
  fi
}

/* The process crashes after this step's call (before its next step): it continues at `to`. */
inline maybe_crash(pc, to) {
  if
  :: crashes < MAX_CRASHES -> crashes++; pc = to
  :: true
  fi
}

/* ---- received_at ----
 * A row's received_at is set when it is written and never changes; a new row under the same key
 * (only after TTL deleted the old one, days later) gets a later one. mark_sent compares it with the
 * received_at its caller read, so what matters is only whether the row under the key is still the
 * one the caller read. The model keeps exactly that: reading[r] has bit _pid set while process
 * _pid holds the received_at of the row now under key r; a deletion clears every bit. (Numbered
 * rows would tell apart states no step can tell apart, and multiply them.) Every configuration
 * runs fewer than 15 processes, so each _pid has its bit. */
short reading[NK];

inline hold_rcv(r) {               /* the process reads the row's received_at */
  reading[r] = reading[r] | (1 << _pid)
}

inline release_rcv(r) {            /* ... and forgets it */
  reading[r] = reading[r] & ~(1 << _pid)
}

#define READ_THIS_ROW(r) ((reading[r] >> _pid) & 1)

/* ---- steps shared by several processes ---- */

/* SqsQueue::send / SqsQueue::send_batch (one entry): the message for row r with body b goes to
 * route d of source q's queues. from_row: the body and the route came from the outbox row (or were
 * written to it by this request). */
inline send_message(q, d, r, b, from_row) {
  aws_call();
  if
  :: o != LOST ->
     assert(q == SRC(r));               /* P1: an event only ever goes to its own source's queue */
     /* P1: and, sent from the outbox, to the destination its row recorded when it was first accepted */
     assert(!from_row || forgotten[r] || d == first_dst[r]);
#ifdef STRICT_FIRST_BODY
     if                                 /* P4, strict: the first body that reached the outbox or the queue */
     :: first_body[r] == 0 -> first_body[r] = b
     :: else
     fi;
     assert(forgotten[r] || b == first_body[r]);
#else
     /* P4: a message sent from the outbox carries the first body the outbox recorded for the id */
     assert(!from_row || forgotten[r] || b == first_body[r]);
#endif
     sent_bodies[r] = sent_bodies[r] | (1 << b);
     if
     :: mq[q] < 2 -> mq[q]++
     :: else
     fi
  :: else
  fi
}

/* DynamoDbOutbox::mark_sent's condition: `status = pending AND received_at = :received_at`, the
 * received_at the sender read, so a newer row under the same key, written after the one that
 * was sent expired, is not marked. WRONG_MARK_WITHOUT_RECEIVED_AT: `status = pending` alone. */
#ifdef WRONG_MARK_WITHOUT_RECEIVED_AT
#define MARK_SENT_CONDITION(r) (st[r] == PENDING)
#else
#define MARK_SENT_CONDITION(r) (st[r] == PENDING && READ_THIS_ROW(r))
#endif

/* DynamoDbOutbox::mark_sent: UpdateItem SET sent_changes (status sent, sent_at, message_id,
 * delivered_by, expires_at) REMOVE SENT_REMOVES (unsent_key), under a condition (guard). An
 * UpdateItem on a missing key would create the item; the condition prevents that. */
inline mark_sent(r, guard) {
  aws_call();
  if
  :: o != LOST && (guard) ->
     assert(body_sent(r));              /* P2: marked sent only once its body reached the queue */
     st[r] = SENT;
     expiry[r] = 1                      /* P3 holds here: body_sent(r) was just asserted */
#ifdef REACH_NEWER_ROW
  :: o != LOST && st[r] == PENDING && !(guard) -> newer_row_kept = 1
#endif
  :: else
  fi
}

/* DynamoDbOutbox::record_failure: ADD attempts 1, SET last_error, and park once the attempts the
 * sweeper read (ra) plus one reach MAX_ATTEMPTS; condition `status = pending`. */
inline record_failure(r, ra) {
  aws_call();
  if
  :: o != LOST && st[r] == PENDING ->
     if
     :: att[r] < MAX_ATTEMPTS -> att[r]++
     :: else
     fi;
     if
     :: ra + 1 >= MAX_ATTEMPTS -> st[r] = PARKED
     :: else
     fi
  :: else
  fi
}

/* ---- the provider and the ingress ---- */

#define P_INSERT 0        /* next: a delivery, Ingress::record_and_send -> Deliverer::record_and_send_row -> insert_pending */
#define P_SEND   1        /* next: Deliverer::send_durable -> SqsQueue::send */
#define P_MARK   2        /* next: Deliverer::send_durable -> DynamoDbOutbox::mark_sent */
#define P_DIRECT 3        /* next: Deliverer::send_without_row -> SqsQueue::send */
#define P_DONE   4        /* answered 2xx: the provider stops */
#define P_CINSERT 5       /* next: the same insert under the key of its own (another body holds the id) */

/* The ingress answers 200 (status_for(Accepted | Duplicate | IdConflict)). P1 and P4 at the moment
 * of the answer: this very body is durable, in a row of the outbox or already on its queue (or
 * on-call has discarded it, and TTL may have deleted the discarded row since). */
inline answer_2xx(s, b, pc) {
  assert(body_durable(s, b));
  ok2xx[s] = 1;
  pc = P_DONE
}

/* Between requests a provider has no row in hand: what it read is gone (fewer states). */
inline provider_forget(k, pc, rd) {
  if
  :: pc == P_INSERT || pc == P_DONE -> release_rcv(k); rd = 0
  :: else
  fi
}

/* A crash of the ingress in the middle of a request: no answer, the provider retries. */
inline ingress_crash(pc) {
  if
  :: pc != P_DONE && pc != P_INSERT -> maybe_crash(pc, P_INSERT)
  :: else
  fi
}

/* Deliverer::record_and_send_row, its insert: body b of source s under key k. */
inline insert_pending(s, k, b, rd, pc, saw_discarded) {
  /* Deliverer::record_and_send_row -> DynamoDbOutbox::insert_pending: PutItem of pending_item
   * (status pending, received_at, unsent_key pending#{source}#{shard}, the destination, no
   * expires_at), condition attribute_not_exists(id); on a failed condition the existing row
   * comes back (not an error) and existing_row reads its status, body hash, received_at and
   * destination (row_state). */
  aws_call();
  if
  :: st[k] == NONE ->
     if
     :: o != LOST ->
        st[k] = PENDING; body[k] = b; att[k] = 0; dst[k] = rd;
        if
        :: first_body[k] == 0 -> first_body[k] = b; first_dst[k] = rd
        :: else
        fi;
#ifdef WRONG_TTL_AT_INSERT
        expiry[k] = 1;
        assert(body_sent(k));        /* P3: an expiry only on a row that was sent */
#endif
     :: else
     fi;
     if
     :: o == OK ->                   /* InsertOutcome::Inserted */
        hold_rcv(k);
#ifdef WRONG_MARK_BEFORE_SEND
        pc = P_MARK
#else
        pc = P_SEND
#endif
     :: else -> pc = P_DIRECT        /* Err: send_without_row */
     fi
  :: else ->
     if
     :: o != OK -> pc = P_DIRECT     /* Err (the call failed, whatever the row) */
#ifdef WRONG_DISCARD_REVIVED
     /* Before RowStatus::Discarded: existing_row cannot parse "discarded" and returns
      * MalformedRow, an Err, so the request goes on to send_without_row */
     :: o == OK && st[k] == DISCARDED -> saw_discarded = 1; discard_redelivered = 1; pc = P_DIRECT
     :: o == OK && st[k] != DISCARDED && body[k] != b -> k = CK(b); pc = P_CINSERT  /* Outcome::IdConflict */
#else
     :: o == OK && body[k] != b ->
        /* Outcome::IdConflict: the first body is kept, this one goes under a key of its own
         * (AcceptedEvent::conflicting), marked id-conflict-of. WRONG_DROP_ID_CONFLICT:
         * answered 200 with this body recorded nowhere (the code before the key of its own). */
        assert(k == s);                /* the key of its own never holds another body */
#ifdef WRONG_DROP_ID_CONFLICT
        answer_2xx(s, b, pc)
#else
        k = CK(b); pc = P_CINSERT
#endif
     :: o == OK && body[k] == b && st[k] == DISCARDED ->  /* Duplicate(Discarded): nothing is sent */
        saw_discarded = 1; discard_redelivered = 1; answer_2xx(s, b, pc)
#endif
     :: o == OK && body[k] == b && (st[k] == SENT || st[k] == PARKED) -> answer_2xx(s, b, pc)  /* Duplicate(Sent | Parked) */
     :: o == OK && body[k] == b && st[k] == PENDING ->
        /* Duplicate(Pending): this request sends the row as first received, its received_at
         * and its destination (ExistingRow), whatever this delivery computed */
        hold_rcv(k);
        rerouted_duplicate = rerouted_duplicate || rd != dst[k];
#ifndef WRONG_DUPLICATE_RECOMPUTES_ROUTE
        rd = dst[k];
#endif
#ifdef WRONG_MARK_BEFORE_SEND
        pc = P_MARK
#else
        pc = P_SEND
#endif
     fi
  fi
}

/* A provider delivering one event (source s, body b): it retries on anything but 2xx (a 500, a
 * crashed function, a timeout), up to MAX_TRIES deliveries. Each delivery is the ingress's request
 * path (Ingress::handle), run by this process. SignatureScheme::verify accepts the signature (a forged
 * request writes nothing and gets 404; not modelled) and Ingress::accepted_event derives the key
 * "{source}:{event id}", row s. A crash before the first write is a delivery with no effect, which
 * the retry covers. Two Provider processes for one key model a provider delivering the same event
 * twice at once (or the Lambda still running after the provider timed out and retried), or an id
 * reused with another body. */
proctype Provider(byte s; byte b) {
  byte pc = P_INSERT;
  byte tries = 0;
  byte rd = 0;                /* the route this request sends to */
  byte k = s;                 /* the key this request records the body under */
  bool saw_discarded = 0;     /* this delivery found its event's row discarded by on-call */

end_provider:
  do
  :: atomic {
       pc == P_INSERT && tries < MAX_TRIES ->
       tries++;
       k = s;
       saw_discarded = 0;
       /* Ingress::accepted_event -> Routes::destination: the route this delivery computes */
#ifdef ROUTE_MAY_CHANGE
       if
       :: rd = 0
       :: rd = 1
       fi;
#endif
       insert_pending(s, k, b, rd, pc, saw_discarded);
       ingress_crash(pc);
       provider_forget(k, pc, rd);
       o = 0
     }
  :: atomic {
       pc == P_CINSERT ->
       /* Deliverer::record_and_send_row, again: the same body under the key of its own */
       insert_pending(s, k, b, rd, pc, saw_discarded);
       ingress_crash(pc);
       provider_forget(k, pc, rd);
       o = 0
     }
  :: atomic {
       pc == P_SEND ->
       /* Deliverer::send_durable -> Deliverer::send -> SqsQueue::send, to the event's destination */
       assert(!saw_discarded);
       send_message(s, rd, k, b, 1);
#ifdef WRONG_MARK_BEFORE_SEND
       answer_2xx(s, b, pc);
#else
       if
       :: o == OK -> pc = P_MARK
       :: else -> answer_2xx(s, b, pc)       /* Delivery::Deferred: the row stays pending */
       fi;
#endif
       ingress_crash(pc);
       provider_forget(k, pc, rd);
       o = 0
     }
  :: atomic {
       pc == P_MARK ->
       /* Deliverer::send_durable -> DynamoDbOutbox::mark_sent with the received_at of the row it
        * wrote or found; an error is MarkSentFailed, still 200 */
       mark_sent(k, MARK_SENT_CONDITION(k));
#ifdef WRONG_MARK_BEFORE_SEND
       pc = P_SEND;
#else
       answer_2xx(s, b, pc);                 /* Delivery::Enqueued | EnqueuedMarkSentFailed */
#endif
       ingress_crash(pc);
       provider_forget(k, pc, rd);
       o = 0
     }
  :: atomic {
       pc == P_DIRECT ->
       /* Deliverer::send_without_row -> Deliverer::send -> SqsQueue::send: the outbox write failed,
        * so the event is safe only once it is on the queue; it goes to the route this delivery
        * computed (no row was read) */
       send_message(s, rd, k, b, 0);
       /* a delivery that found its event discarded by on-call does not put it on the queue */
       assert(!saw_discarded || o == LOST);
       saw_discarded = 0;
       if
       :: o == OK -> answer_2xx(s, b, pc)    /* Delivery::EnqueuedWithoutOutbox */
       :: else ->
#ifdef WRONG_2XX_WHEN_NOTHING_TOOK_IT
          answer_2xx(s, b, pc)
#else
          pc = P_INSERT                   /* Outcome::Failed: 500, the provider retries */
#endif
       fi;
       ingress_crash(pc);
       provider_forget(k, pc, rd);
       o = 0
     }
  od
}

/* ---- the sweeper ---- */

#define S_LOOK 0          /* next: Query the index and re-read the row */
#define S_SEND 1          /* next: send_batch -> SqsQueue::send_batch */
#define S_MARK 2          /* next: send_batch -> DynamoDbOutbox::mark_sent */
#define S_FAIL 3          /* next: send_batch / record_failures -> DynamoDbOutbox::record_failure */

/* Sweeper::sweep_once, forever (EventBridge Scheduler starts one every minute; a crash ends one
 * sweep and the next starts over at S_LOOK). Each round is one row of one page. GRACE_SECS is not
 * modelled: a sweep may take a row at any moment, even while the ingress still handles it, which
 * only adds interleavings. */
proctype Sweeper(byte s) {
  byte pc = S_LOOK;
  byte r = s;             /* the row in hand */
  byte rb = 0;            /* its body, as re-read */
  byte ra = 0;            /* its attempts, as re-read */
  byte rd = 0;            /* its destination, as re-read */

end_sweep:
  do
  :: atomic {
       pc == S_LOOK ->
       /* DynamoDbOutbox::unsent_page: Query of the unsent index. Its key is
        * pending#{source}#{shard}, so another source's row is never in the answer, stale or not
        * (a row's source never changes). */
#if defined(WRONG_SOURCELESS_INDEX) || defined(STRAY_INDEX_ENTRIES)
       /* WRONG_SOURCELESS_INDEX: the key before sources shared a table, pending#{shard}, holds
        * every source's rows. STRAY_INDEX_ENTRIES: another source's row in this source's
        * partition all the same (an index key written by hand or by a bug). */
       if
       :: r = A
       :: r = B
       fi;
#elif defined(CONFLICTING_BODY)
       /* a second body's row, "A:e#<hash>", is in A's partitions like A's own */
       if
       :: r = s
       :: st[CK(1)] == PENDING -> r = CK(1)
       :: st[CK(2)] == PENDING -> r = CK(2)
       fi;
#endif
       /* The index is eventually consistent: it may miss a pending row (a stale answer spends a
        * fault), or list a row no longer pending, which the consistent re-read filters out just
        * as if it had not been listed. Sweeper::resend -> DynamoDbOutbox::load_rows then re-reads
        * the listed rows (consistent BatchGetItem) and keeps those still pending and of its own
        * source. Query and re-read are one step here: with the index free to be stale, what
        * happens between them adds no behaviour. */
       if
       :: st[r] == PENDING ->
          aws_read();                     /* the Query */
          if
          :: o == OK && faults < MAX_FAULTS -> faults++  /* stale: the row is missed */
          :: o == OK ->
             aws_read();                  /* the BatchGetItem */
#if defined(WRONG_SOURCELESS_INDEX) || defined(WRONG_NO_SOURCE_RECHECK)
             if
             :: o == OK -> rb = body[r]; ra = att[r]; hold_rcv(r); rd = dst[r]; pc = S_SEND
             :: else
             fi;
#else
             if
             :: o == OK && SRC(r) == s -> rb = body[r]; ra = att[r]; hold_rcv(r); rd = dst[r]; pc = S_SEND
             :: else
             fi;
#endif
             /* Sweeper::resend -> by_destination: the row's recorded destination, looked up in the
              * sweeper's own queues. ROUTE_UNKNOWN_TO_SWEEPER: the sweeper's ROUTES lack it (a
              * configuration drift), so record_failures counts a failed send for the row, which
              * parks after MAX_ATTEMPTS. */
#ifdef ROUTE_UNKNOWN_TO_SWEEPER
             if
             :: pc == S_SEND -> pc = S_FAIL
             :: else
             fi
#else
             skip
#endif
          :: else
          fi
       :: else
       fi;
       if
       :: pc == S_LOOK -> r = s          /* nothing taken: no row in hand (fewer states) */
       :: else
       fi;
       o = 0
     }
  :: atomic {
       pc == S_SEND ->
       /* send_batch -> SqsQueue::send_batch: this row's entry, to the row's destination among this
        * sweeper's own queues */
       send_message(s, rd, r, rb, 1);
       pc = (o == OK -> S_MARK : S_FAIL);
       maybe_crash(pc, S_LOOK);
       if
       :: pc == S_LOOK -> rb = 0; ra = 0; release_rcv(r); rd = 0; r = s
       :: else
       fi;
       o = 0
     }
  :: atomic {
       pc == S_MARK ->
#ifdef WRONG_UNCONDITIONAL_MARK
       /* mark_sent without its condition: an UpdateItem that also creates a missing row */
       mark_sent(r, true);
#else
       /* send_batch -> DynamoDbOutbox::mark_sent, with the received_at load_rows read */
       mark_sent(r, MARK_SENT_CONDITION(r));
#endif
       pc = S_LOOK; rb = 0; ra = 0; release_rcv(r); rd = 0; r = s;
       o = 0
     }
  :: atomic {
       pc == S_FAIL ->
       record_failure(r, ra);             /* send_batch (or record_failures) -> DynamoDbOutbox::record_failure */
       pc = S_LOOK; rb = 0; ra = 0; release_rcv(r); rd = 0; r = s;
       o = 0
     }
  od
}

/* ---- TTL ---- */

/* DynamoDB's TTL deletes a row whose expires_at is set (sent or discarded), at any moment after
 * it is set. Once deleted, the key is forgotten: a later delivery of the id is a new event. */
inline ttl_delete(r) {
  assert(body_sent(r) || st[r] == DISCARDED);   /* P3: TTL never deletes an unsent event (unless on-call discarded it) */
  st[r] = NONE; body[r] = 0; att[r] = 0; dst[r] = 0; expiry[r] = 0;
  reading[r] = 0;                       /* whoever read the row's received_at read a row now gone */
  forgotten[r] = 1
}

active proctype Ttl() {
end_ttl:
  do
  :: atomic { expiry[A] -> ttl_delete(A) }
  :: atomic { expiry[B] -> ttl_delete(B) }
  :: atomic { expiry[CK(1)] -> ttl_delete(CK(1)) }
  :: atomic { expiry[CK(2)] -> ttl_delete(CK(2)) }
  od
}

/* ---- workers and on-call ---- */

#ifdef WITH_ONCALL
bool redriven;          /* ghost: a DLQ message was copied back and deleted from the DLQ */
bool resent_parked;     /* ghost: on-call's resend marked a parked row sent */

/* The workers: a message that failed maxReceiveCount receives moves to the DLQ (once). */
active proctype Workers() {
  atomic { mq[A] > 0 -> mq[A]--; dq[A]++ }
}

#define C_IDLE     0      /* next: pick a command */
#define C_RESEND   1      /* resend: next SqsQueue::send of the row read */
#define C_RMARK    2      /* resend: next DynamoDbOutbox::mark_resent */
#define C_REPLAY   3      /* replay: next SqsQueue::send_batch of the sent row's body */
#define C_RSEND    4      /* dlq redrive: next SqsQueue::send_copy to the main queue */
#define C_RDELETE  5      /* dlq redrive: next SqsQueue::delete from the DLQ */

/* On-call running outboxctl commands on source A's row, ONCALL_OPS of them, each possibly
 * interrupted (the CLI killed) between any two steps. */
active proctype OnCall() {
  byte pc = C_IDLE;
  byte ops = 0;
  byte rb = 0;            /* the row's body as read */
  byte rd = 0;            /* the row's destination as read */

end_oncall:
  do
  :: atomic {
       pc == C_IDLE && ops < ONCALL_OPS ->
       ops++;
       if
       :: /* resend: rows::resend_one -> DynamoDbOutbox::load_rows (consistent); a pending or
           * parked row is sent to its destination, a sent or discarded one is skipped */
          aws_read();
          if
          :: o == OK && (st[A] == PENDING || st[A] == PARKED) -> rb = body[A]; rd = dst[A]; pc = C_RESEND
          :: else
          fi
       :: /* park: rows::park -> DynamoDbOutbox::park, UpdateItem pending -> parked (body kept,
           * no expiry), condition status = pending */
          aws_call();
          if
          :: o != LOST && st[A] == PENDING -> st[A] = PARKED
          :: else
          fi
       :: /* discard: rows::discard -> DynamoDbOutbox::discard, UpdateItem pending or parked ->
           * discarded, audited, body kept, expires after the retention like a sent row */
          aws_call();
          if
          :: o != LOST && (st[A] == PENDING || st[A] == PARKED) -> st[A] = DISCARDED; expiry[A] = 1; discarded[A] = 1
          :: else
          fi
       :: /* replay: replay::scan_segment -> DynamoDbOutbox::scan_sent finds the sent row */
          aws_read();
          if
          :: o == OK && st[A] == SENT -> rb = body[A]; rd = dst[A]; pc = C_REPLAY
          :: else
          fi
       :: /* dlq redrive (by copy): dlq::redrive -> SqsQueue::receive from the DLQ */
          aws_read();
          if
          :: o == OK && dq[A] > 0 ->
#ifdef WRONG_REDRIVE_DELETE_FIRST
             pc = C_RDELETE
#else
             pc = C_RSEND
#endif
          :: else
          fi
       fi;
       o = 0
     }
  :: atomic {
       pc == C_RESEND ->
       send_message(A, rd, A, rb, 1);     /* rows::resend_one -> SqsQueue::send */
       pc = (o == OK -> C_RMARK : C_IDLE);
       maybe_crash(pc, C_IDLE);
       if
       :: pc == C_IDLE -> rb = 0; rd = 0
       :: else
       fi;
       o = 0
     }
  :: atomic {
       pc == C_RMARK ->
       /* rows::resend_one -> DynamoDbOutbox::mark_resent: condition status IN (pending, parked) */
       if
       :: st[A] == PARKED -> resent_parked = 1
       :: else
       fi;
       mark_sent(A, st[A] == PENDING || st[A] == PARKED);
       resent_parked = resent_parked && st[A] == SENT;
       pc = C_IDLE; rb = 0; rd = 0;
       o = 0
     }
  :: atomic {
       pc == C_REPLAY ->
       send_message(A, rd, A, rb, 1);     /* replay::replay_page -> SqsQueue::send_batch: a duplicate the workers tolerate */
       pc = C_IDLE; rb = 0; rd = 0;
       o = 0
     }
  :: atomic {
       pc == C_RSEND ->
       /* dlq::redrive -> SqsQueue::send_copy: the DLQ message, unchanged, back to its main queue */
       send_message(A, first_dst[A], A, first_body[A], 0);
#ifdef WRONG_REDRIVE_DELETE_FIRST
       pc = C_IDLE;
#else
       pc = (o == OK -> C_RDELETE : C_IDLE);  /* never delete before the copy is on the main queue */
#endif
       maybe_crash(pc, C_IDLE);
       o = 0
     }
  :: atomic {
       pc == C_RDELETE ->
       aws_call();                        /* dlq::redrive -> SqsQueue::delete */
       if
       :: o != LOST -> dq[A]--; redriven = 1
       :: else
       fi;
       /* P1 on the queue side: a message that reached the queue stays on the queue or its DLQ */
       assert(!everq(A) || mq[A] + dq[A] > 0);
#ifdef WRONG_REDRIVE_DELETE_FIRST
       pc = C_RSEND;
#else
       pc = C_IDLE;
#endif
       maybe_crash(pc, C_IDLE);
       o = 0
     }
  od
}
#endif

/* ---- the configuration ---- */
init {
  atomic {
#if SWEEPERS_A >= 1
    run Sweeper(A);
#endif
#if SWEEPERS_A >= 2
    run Sweeper(A);
#endif
    run Provider(A, 1);
#ifdef DUPLICATE_DELIVERY
    run Provider(A, 1);
#endif
#ifdef CONFLICTING_BODY
    run Provider(A, 2);
#endif
#ifdef WITH_SOURCE_B
    run Sweeper(B);
    run Provider(B, 1);
#endif
  }
}

/* Reachability probes (check.sh's "not vacuous" checks): each fails as soon as its situation
 * occurs, so spin must find a run to it; a bound or a guard that made it unreachable would let
 * the real-protocol checks pass for the wrong reason. */
#if defined(REACH_PARKED)
#define REACHED (st[A] == PARKED)                           /* a row parked after failed sends */
#elif defined(REACH_TTL_DELETED)
#define REACHED (forgotten[A])                              /* TTL deleted a sent row */
#elif defined(REACH_2XX_ONLY_IN_OUTBOX)
#define REACHED (ok2xx[A] && st[A] == PENDING && !everq(A)) /* 200 with the event only in the outbox */
#elif defined(REACH_BOTH_SOURCES_DELIVERED)
#define REACHED (everq(A) && everq(B))                      /* both sources' events on their queues */
#elif defined(REACH_BOTH_BODIES_QUEUED)
#define REACHED (((sent_bodies[A] | sent_bodies[CK(1)] | sent_bodies[CK(2)]) & 6) == 6)  /* both bodies on A's queue */
#elif defined(REACH_SECOND_BODY_FIRST)
#define REACHED (first_body[A] == 2 && ok2xx[A])            /* the other body won the id */
#elif defined(REACH_DISCARDED)
#define REACHED (discarded[A])                              /* on-call discarded the row */
#elif defined(REACH_DISCARD_REDELIVERED)
#define REACHED (discard_redelivered)                       /* a delivery found its row discarded */
#elif defined(REACH_NEWER_ROW)
#define REACHED (newer_row_kept)                            /* a sender outlived its row: a newer one is not marked */
#elif defined(REACH_ROUTE_CHANGED)
#define REACHED (rerouted_duplicate)                        /* a pending row's redelivery computed another route */
#elif defined(REACH_REDRIVEN)
#define REACHED (redriven)                                  /* a DLQ message copied back, then deleted */
#elif defined(REACH_PARKED_RESENT)
#define REACHED (resent_parked)                             /* on-call resent a parked row, marked sent */
#endif
#ifdef REACHED
active proctype Reach() {
  atomic { REACHED -> assert(false) }
}
#endif

#ifdef LIVENESS
/* P1 as LTL: an event answered 2xx is eventually on its own queue, or parked / discarded (on-call
 * sees it, with its body). That it never reaches another source's queue is the assertion in
 * send_message. */
#define done_A (everq(A) || st[A] == PARKED || discarded[A])
ltl p1 { [] (ok2xx[A] -> <> done_A) }
#endif
