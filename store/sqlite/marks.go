package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/gatehouse/gatehouse/store"
)

// Single-use marks (UseOnce) share commits under load, with no goroutine
// of their own: each caller queues its mark; when no batch is being
// written it writes the whole queue — one mark as one autocommit
// statement, several in one transaction — and otherwise waits for the
// batch in progress, which may have written its mark. Alone (the serial case) a mark costs exactly one
// statement; under load the marks that queued while one commit ran share
// the next (a commit's WAL writes and locks were most of a lone mark's
// cost). A goroutine that committed batches was tried first: its hand-off
// cost a lone mark ~45 µs more (bench/README.md).

// mark is one queued UseOnce.
type mark struct {
	ctx          context.Context
	key          string
	expires, now int64
	err          error
	done         bool // written (err says how); guarded by markQueue.mu
}

// markQueue holds the marks waiting to be written.
type markQueue struct {
	mu      sync.Mutex // guards everything below, and every mark's done and err
	pending []*mark
	writing bool       // a caller is writing a batch
	written *sync.Cond // on mu: a batch has been written
}

// useOnce queues m and waits until it is written: by this caller when no
// batch is being written (then it takes the whole queue), or by the caller
// writing one now or next.
func (s *sqlStore) useOnce(m *mark) error {
	q := &s.markq
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.written == nil {
		q.written = sync.NewCond(&q.mu)
	}
	q.pending = append(q.pending, m)
	for !m.done {
		if q.writing {
			q.written.Wait()
			continue
		}
		batch := q.pending
		q.pending, q.writing = nil, true
		q.mu.Unlock()
		s.writeMarks(batch)
		q.mu.Lock()
		for _, b := range batch {
			b.done = true
		}
		q.writing = false
		q.written.Broadcast()
	}
	return m.err
}

// writeMarks writes a batch, setting each mark's err. A key that appears
// twice in a batch is used by the first and refused to the second, as if
// they had come one after the other.
func (s *sqlStore) writeMarks(batch []*mark) {
	const op = "use once"
	ctx := context.Background() // each mark's own ctx is checked below
	if len(batch) == 1 {
		m := batch[0]
		if m.err = m.ctx.Err(); m.err == nil {
			m.err = markResult(s.markStmt.ExecContext(ctx, m.key, m.expires, m.now))
		}
		return
	}
	tx, err := s.marks.BeginTx(ctx, nil)
	if err != nil {
		for _, m := range batch {
			m.err = fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return
	}
	st := tx.StmtContext(ctx, s.markStmt)
	for _, m := range batch {
		if m.err = m.ctx.Err(); m.err == nil {
			m.err = markResult(st.ExecContext(ctx, m.key, m.expires, m.now))
		}
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		for _, m := range batch {
			if m.err == nil {
				m.err = fmt.Errorf("sqlite: %s: commit: %w", op, err)
			}
		}
	}
}

// markResult is one mark's answer from its INSERT's outcome.
func markResult(res sql.Result, err error) error {
	const op = "use once"
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return fmt.Errorf("sqlite: %s: %w", op, err)
	case n == 0:
		return fmt.Errorf("sqlite: %s: already used: %w", op, store.ErrConflict)
	}
	return nil
}
