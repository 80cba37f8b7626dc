/*
 * The reconciler (reconciler/src/lib.rs, Reconciler::run_once), as a Promela model for spin: does every
 * event the provider emitted reach the outbox (and from there the queue: outbox.pml proves that part),
 * whatever the ingress's deliveries, the reconciler's API calls and its crashes do?
 *
 * The world: the provider emits NE events, in time order (event e at time e). The ingress receives each
 * delivery or never does (a DNS problem, a rotated secret, a burst answered 429 by a provider that does
 * not retry): an event either gets its row through the ingress or nothing. RUNS scheduled runs of the
 * reconciler, RECONCILERS of them possibly at once, each:
 *   1. takes the checkpoint's lease (acquire_checkpoint_lease: a conditional write), or does nothing;
 *   2. reads the checkpoint cp; its window is the events from cp on (settled: all of them here);
 *   3. for each event of the window without a row, recovers it (record_and_send: a conditional insert,
 *      or a GitHub redelivery, which arrives as an ingress delivery: both give the row) or fails (an
 *      API error, a rate limit: the fault budget); a failure holds the checkpoint at that event;
 *   4. moves the checkpoint to the first event it failed, else past the window, and releases the lease
 *      (finish_checkpoint_run: conditional on still holding it).
 * A run may crash between any two steps (the crash budget); its lease then runs out (a transition that
 * only a crashed holder's lease takes) and a later run repeats its work. After the faults and crashes are
 * spent, a last run goes (the schedule keeps running: "failures stop eventually").
 *
 * The property (safety, at the end): every emitted event has its row, and no event was recorded twice.
 * WRONG_ADVANCE_FIRST: the checkpoint is moved past the window before the recoveries (a known-wrong
 * variant): a crash in between skips an event for good, and spin must find it.
 */

#ifndef NE
#define NE 3              /* events the provider emits */
#endif
#ifndef RECONCILERS
#define RECONCILERS 2     /* runs that may overlap */
#endif
#ifndef RUNS
#define RUNS 2            /* runs per reconciler process before the last run */
#endif
#ifndef MAX_FAULTS
#define MAX_FAULTS 2      /* failed recoveries, all runs together */
#endif
#ifndef MAX_CRASHES
#define MAX_CRASHES 1     /* crashed runs */
#endif

byte row[NE];             /* 0: no row; n: recorded n times (a conditional insert keeps it at 1) */
byte checkpoint;          /* every event before it is settled */
byte lease;               /* 0: free; else the holder's pid + 1 */
bool crashed[16];      /* by pid */
byte faults;
byte crashes;
byte running;             /* reconciler processes not done */

/* An ingress delivery, or a recovery (both end in a conditional insert). */
inline record(e) {
  if
  :: row[e] == 0 -> row[e] = 1
  :: else -> skip       /* a duplicate: the row exists, nothing is written */
  fi
}

/* A crash here, if the budget allows: the run stops, its lease stays until it runs out. */
#define MAY_CRASH \
  if \
  :: crashes < MAX_CRASHES -> crashes++; crashed[_pid] = true; goto done \
  :: true -> skip \
  fi

proctype Ingress(byte e) {
  /* The delivery reaches the ingress, or never does (the provider does not retry). */
  if
  :: atomic { record(e) }
  :: skip
  fi
}

proctype Reconciler(bool last) {
  byte done_runs = 0, cp, e, hold;
  do
  :: done_runs < (last -> 1 : RUNS) ->
    done_runs++;
    atomic {
      if
      :: lease == 0 -> lease = _pid + 1
      :: else -> goto next       /* another run holds the lease: nothing done */
      fi
    }
    cp = checkpoint;
    hold = NE;
#ifdef WRONG_ADVANCE_FIRST
    atomic { if :: lease == _pid + 1 -> checkpoint = NE :: else -> skip fi }
    if :: !last -> MAY_CRASH :: else -> skip fi;
#endif
    e = cp;
    do
    :: e < NE ->
      if :: !last -> MAY_CRASH :: else -> skip fi;
      atomic {
        if
        :: row[e] != 0 -> skip                      /* present: left alone */
        :: row[e] == 0 && faults < MAX_FAULTS && !last ->
           faults++;                                /* not recovered this time */
           if :: hold == NE -> hold = e :: else -> skip fi
        :: row[e] == 0 -> record(e)
        fi
      }
      e++
    :: else -> break
    od;
    if :: !last -> MAY_CRASH :: else -> skip fi;
    atomic {
      if
      :: lease == _pid + 1 -> checkpoint = hold; lease = 0
      :: else -> skip                                /* the lease ran out: nothing written */
      fi
    }
next:
    skip
  :: else -> break
  od;
done:
  atomic { running-- }
}

/* A crashed holder's lease runs out. */
proctype Expiry() {
  do
  :: atomic { lease != 0 && crashed[lease - 1] -> lease = 0 }
  :: running == 0 -> break
  od
}

init {
  byte e;
  atomic {
    running = RECONCILERS;
    e = 0;
    do
    :: e < NE -> run Ingress(e); e++
    :: else -> break
    od;
    e = 0;
    do
    :: e < RECONCILERS -> run Reconciler(false); e++
    :: else -> break
    od;
    run Expiry();
  }
  (running == 0);
  /* The schedule keeps running: once the crashed runs' leases have run out, a last run. */
  (lease == 0 || crashed[lease - 1]);
  lease = 0;
  running = 1;
  run Reconciler(true);
  (running == 0);
  e = 0;
  do
  :: e < NE ->
     assert(row[e] == 1);     /* every emitted event has its row, once */
     e++
  :: else -> break
  od;
#ifdef REACH_CRASH_AND_FAILURE
  /* Reachability: a run crashed and a recovery failed, and still every event has its row. */
  assert(!(crashes > 0 && faults > 0))
#endif
}
