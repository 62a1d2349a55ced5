package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/internal/backend"
)

// Refresh families and tokens (store.RefreshStore).

const (
	familyColumns = `f.id, f.client_id, f.subject, f.scopes, f.audience, f.session_id,
		f.auth_time, f.created_at, f.expires_at, f.revoked_at, f.amr, f.dpop_jkt`
	tokenColumns = `t.hash, t.family_id, t.created_at, t.expires_at, t.rotated_at`
)

// scanTokenFamily reads tokenColumns followed by familyColumns.
func scanTokenFamily(row scanner) (store.RefreshToken, store.RefreshFamily, error) {
	var (
		t                                   store.RefreshToken
		f                                   store.RefreshFamily
		tCreated, tExpires, tRotated        sql.NullInt64
		scopes, aud, amr                    string
		fAuth, fCreated, fExpires, fRevoked sql.NullInt64
	)
	if err := row.Scan(&t.Hash, &t.FamilyID, &tCreated, &tExpires, &tRotated,
		&f.ID, &f.ClientID, &f.Subject, &scopes, &aud, &f.SessionID,
		&fAuth, &fCreated, &fExpires, &fRevoked, &amr, &f.DPoPJKT); err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, err
	}
	var err error
	if f.AMR, err = decodeList(amr); err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, err
	}
	if f.Scopes, err = decodeList(scopes); err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, err
	}
	if f.Audience, err = decodeList(aud); err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.RotatedAt = fromMillis(tCreated), fromMillis(tExpires), fromMillis(tRotated)
	f.AuthTime, f.CreatedAt = fromMillis(fAuth), fromMillis(fCreated)
	f.ExpiresAt, f.RevokedAt = fromMillis(fExpires), fromMillis(fRevoked)
	return t, f, nil
}

// insertFamily inserts a checked family and its first token.
func insertFamily(ctx context.Context, tx querier, op string, f store.RefreshFamily, first store.RefreshToken) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (id, client_id, subject, scopes,
		audience, session_id, auth_time, created_at, expires_at, revoked_at, amr, dpop_jkt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.ClientID, f.Subject, encodeList(f.Scopes), encodeList(f.Audience), f.SessionID,
		toMillis(f.AuthTime), toMillis(f.CreatedAt), toMillis(f.ExpiresAt), toMillis(f.RevokedAt), encodeList(f.AMR), f.DPoPJKT); err != nil {
		return insertErr(op, fmt.Sprintf("refresh family %q", f.ID), err)
	}
	return insertToken(ctx, tx, op, first)
}

func insertToken(ctx context.Context, tx querier, op string, t store.RefreshToken) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, family_id, created_at,
		expires_at, rotated_at) VALUES (?, ?, ?, ?, ?)`,
		t.Hash, t.FamilyID, toMillis(t.CreatedAt), toMillis(t.ExpiresAt), toMillis(t.RotatedAt)); err != nil {
		return insertErr(op, "refresh token", err)
	}
	return nil
}

// CreateFamily stores a new family with its first token.
func (s *sqlStore) CreateFamily(ctx context.Context, f store.RefreshFamily, first store.RefreshToken) error {
	const op = "create refresh family"
	return s.withTx(ctx, op, func(tx querier) error {
		return insertFamily(ctx, tx, op, f, first)
	})
}

// tokenFamilyQuery reads a token and its family; ? is the hash.
const tokenFamilyQuery = `SELECT ` + tokenColumns + `, ` + familyColumns + `
	FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.hash = ?`

// GetRefresh returns a refresh token and its family whatever their state.
func (s *sqlStore) GetRefresh(ctx context.Context, hash string) (store.RefreshToken, store.RefreshFamily, error) {
	t, f, err := scanTokenFamily(s.queryRow(ctx, tokenFamilyQuery, hash))
	if err != nil {
		return store.RefreshToken{}, store.RefreshFamily{}, notFound("get refresh token", err)
	}
	return t, f, nil
}

// RotateRefresh exchanges the token r.OldHash for r.Next, detecting reuse.
func (s *sqlStore) RotateRefresh(ctx context.Context, r backend.Rotation) (store.RefreshFamily, error) {
	// Rotations are committed in batches by one goroutine (see
	// rotateLoop): under load many share one transaction and one fsync.
	rot := &rotation{ctx: ctx, Rotation: r, done: make(chan struct{})}
	select {
	case s.rotations <- rot:
	case <-ctx.Done():
		return store.RefreshFamily{}, ctx.Err()
	case <-s.quit:
		return store.RefreshFamily{}, errClosed
	}
	<-rot.done
	return rot.fam, rot.err
}

// rotation is one RotateRefresh call waiting for its batch.
type rotation struct {
	ctx context.Context
	backend.Rotation

	fam  store.RefreshFamily
	err  error
	done chan struct{}
}

// maxRotationBatch bounds one transaction: long enough to amortise the
// commit, short enough that a batch never holds the write lock for long.
const maxRotationBatch = 64

// rotateLoop commits refresh-token rotations in batches. SQLite has one
// writer, so rotations are serial anyway; gathering the ones that arrived
// while the previous batch committed into one transaction pays BEGIN,
// COMMIT and the fsync once per batch instead of once per rotation, which
// is what bounds refresh throughput. Each rotation runs in a savepoint, so
// one failing rotation never disturbs the others, and every answer waits
// for the commit: nothing is reported before it is durable.
func (s *sqlStore) rotateLoop() {
	defer close(s.loopDone)
	batch := make([]*rotation, 0, maxRotationBatch)
	for {
		select {
		case <-s.quit:
			return
		case r := <-s.rotations:
			batch = append(batch[:0], r)
		}
	gather:
		for len(batch) < maxRotationBatch {
			select {
			case r := <-s.rotations:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.rotateBatch(batch)
	}
}

func (s *sqlStore) rotateBatch(batch []*rotation) {
	const op = "rotate refresh token"
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	ctx := context.Background() // each rotation's own ctx is checked below
	wtx, release, err := s.beginWrite(ctx)
	if err != nil {
		for _, r := range batch {
			r.err = fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return
	}
	defer release()
	tx := s.cached(wtx)
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT rotation`); err != nil {
			r.err = fmt.Errorf("sqlite: %s: %w", op, err)
			continue
		}
		var keep bool
		r.fam, keep, r.err = rotateInTx(ctx, tx, r)
		stmt := `RELEASE rotation`
		if !keep {
			stmt = `ROLLBACK TO rotation; RELEASE rotation`
		}
		if _, err := wtx.ExecContext(ctx, stmt); err != nil {
			r.err = fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	if err := wtx.Commit(); err != nil {
		_ = wtx.Rollback()
		for _, r := range batch {
			if r.err == nil || errors.Is(r.err, store.ErrReused) {
				r.err = fmt.Errorf("sqlite: %s: commit: %w", op, err)
			}
		}
	}
}

// rotateInTx is one rotation inside the batch's transaction. keep says
// whether its writes stand: on success, and on reuse, whose family
// revocation must be committed although the call reports ErrReused.
func rotateInTx(ctx context.Context, tx querier, rot *rotation) (store.RefreshFamily, bool, error) {
	const op = "rotate refresh token"
	// The batch holds the write lock, so the state read here cannot change
	// before it commits: of two rotations of one token, the second reads
	// the first's result and sees reuse.
	old, fam, err := scanTokenFamily(tx.QueryRowContext(ctx, tokenFamilyQuery, rot.OldHash))
	if err != nil {
		return store.RefreshFamily{}, false, notFound(op, err)
	}
	next, access, err := rot.Decide(old, fam)
	if errors.Is(err, store.ErrReused) {
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
			toMillis(rot.Now), fam.ID); err != nil {
			return store.RefreshFamily{}, false, fmt.Errorf("sqlite: %s: revoking family on reuse: %w", op, err)
		}
		fam.RevokedAt = rot.Now
		return fam, true, store.ErrReused
	}
	if err != nil {
		return fam, false, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND rotated_at IS NULL`,
		toMillis(rot.Now), rot.OldHash)
	if err != nil {
		return store.RefreshFamily{}, false, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.RefreshFamily{}, false, fmt.Errorf("sqlite: %s: %w", op, err)
	} else if n != 1 {
		return store.RefreshFamily{}, false, fmt.Errorf("sqlite: %s: token changed under the write lock (%d rows updated)", op, n)
	}
	if err := insertToken(ctx, tx, op, next); err != nil {
		return store.RefreshFamily{}, false, err
	}
	if err := insertAccess(ctx, tx, op, access); err != nil {
		return store.RefreshFamily{}, false, err
	}
	return fam, true, nil
}

// RevokeFamily revokes a family, keeping an earlier revocation time.
func (s *sqlStore) RevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	const op = "revoke refresh family"
	return s.withTx(ctx, op, func(tx querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
			toMillis(now), familyID)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if n == 1 {
			return nil
		}
		// Nothing updated: already revoked (fine) or absent.
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_families WHERE id = ?`, familyID).Scan(&exists); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if exists == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// RevokeFamiliesBySession revokes every live family of a session.
func (s *sqlStore) RevokeFamiliesBySession(ctx context.Context, sessionID string, now time.Time) (int, error) {
	const op = "revoke refresh families by session"
	// One statement is one transaction.
	res, err := s.db.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL`,
		toMillis(now), sessionID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return int(n), nil
}
