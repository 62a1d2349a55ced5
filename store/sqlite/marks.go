package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// Single-use marks (UseOnce) are written in batches, like refresh
// rotations (rotateLoop): the marks that arrive while one batch commits
// go into the next transaction, so under load a DPoP proof's or a client
// assertion's mark costs one INSERT, not a commit — each commit writes
// its WAL frames and takes the WAL-index locks, most of a lone mark's
// cost. Every answer waits for its batch's commit.

// mark is one UseOnce waiting for markLoop.
type mark struct {
	ctx          context.Context
	key          string
	expires, now int64
	err          error
	done         chan struct{}
}

// maxMarkBatch bounds one transaction.
const maxMarkBatch = 128

// markLoop commits marks in batches until quit.
func (s *sqlStore) markLoop() {
	defer close(s.marksDone)
	batch := make([]*mark, 0, maxMarkBatch)
	for {
		select {
		case <-s.quit:
			return
		case m := <-s.markq:
			batch = append(batch[:0], m)
		}
	gather:
		for len(batch) < maxMarkBatch {
			select {
			case m := <-s.markq:
				batch = append(batch, m)
			default:
				break gather
			}
		}
		s.markBatch(batch)
	}
}

// markBatch writes one batch in one transaction. A key that appears twice
// in a batch is used by the first and refused to the second, as if they
// had come one after the other.
func (s *sqlStore) markBatch(batch []*mark) {
	const op = "use once"
	defer func() {
		for _, m := range batch {
			close(m.done)
		}
	}()
	ctx := context.Background() // each mark's own ctx is checked below
	if len(batch) == 1 {
		// Alone: the statement is its own transaction, one round less
		// than BEGIN … COMMIT.
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
		if err := m.ctx.Err(); err != nil {
			m.err = err
			continue
		}
		m.err = markResult(st.ExecContext(ctx, m.key, m.expires, m.now))
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
