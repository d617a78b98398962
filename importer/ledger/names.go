package ledger

import (
	"encoding/binary"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The names bucket holds the strings records share (scanned folders, rules, targets, build
// keys, task statuses), each once, by id; name-ids maps them back. Ids are never reused or
// removed: a name costs its bytes twice, once, however many records name it.
var (
	bucketNames   = []byte("names")
	bucketNameIDs = []byte("name-ids")
)

// maxCachedNames bounds the in-memory name cache (a long-running watcher meets a new build
// key with every build); past it the cache starts over.
const maxCachedNames = 1 << 16

// names caches committed names both ways. Names a transaction adds reach the cache only
// when it commits (a rolled-back id must never be handed out again).
type names struct {
	mu   sync.RWMutex
	byID map[uint64]string
	ids  map[string]uint64
}

func newNames() *names {
	return &names{byID: map[uint64]string{}, ids: map[string]uint64{}}
}

func (n *names) cached(id uint64) (string, bool) {
	n.mu.RLock()
	s, ok := n.byID[id]
	n.mu.RUnlock()
	return s, ok
}

func (n *names) cachedID(s string) (uint64, bool) {
	n.mu.RLock()
	id, ok := n.ids[s]
	n.mu.RUnlock()
	return id, ok
}

func (n *names) remember(s string, id uint64) {
	n.mu.Lock()
	if len(n.byID) >= maxCachedNames {
		n.byID, n.ids = map[uint64]string{}, map[string]uint64{}
	}
	n.byID[id], n.ids[s] = s, id
	n.mu.Unlock()
}

// reader resolves names in a read-only transaction (write transactions use nameTx.lookup).
func (n *names) reader(tx *bolt.Tx) nameLookup {
	return func(id uint64) (string, error) {
		if s, ok := n.cached(id); ok {
			return s, nil
		}
		b := tx.Bucket(bucketNames)
		var v []byte
		if b != nil {
			v = b.Get(itob(id))
		}
		if v == nil {
			return "", fmt.Errorf("%w: name %d is not in the ledger", errCorrupt, id)
		}
		s := string(v)
		n.remember(s, id)
		return s, nil
	}
}

// nameTx assigns and resolves names in a write transaction.
type nameTx struct {
	n        *names
	tx       *bolt.Tx
	added    map[string]uint64
	addedIDs map[uint64]bool
}

func (n *names) writer(tx *bolt.Tx) *nameTx {
	return &nameTx{n: n, tx: tx}
}

func (w *nameTx) assign(s string) (uint64, error) {
	if id, ok := w.added[s]; ok {
		return id, nil
	}
	if id, ok := w.n.cachedID(s); ok {
		return id, nil
	}
	if v := w.tx.Bucket(bucketNameIDs).Get([]byte(s)); v != nil {
		id, n := binary.Uvarint(v)
		if n <= 0 {
			return 0, fmt.Errorf("%w: id of name %q", errCorrupt, s)
		}
		w.n.remember(s, id) // not this transaction's (those are in added): committed
		return id, nil
	}
	nb := bucket(w.tx, bucketNames)
	id, err := nb.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := nb.Put(itob(id), []byte(s)); err != nil {
		return 0, err
	}
	if err := w.tx.Bucket(bucketNameIDs).Put([]byte(s), binary.AppendUvarint(nil, id)); err != nil {
		return 0, err
	}
	if w.added == nil {
		w.added, w.addedIDs = map[string]uint64{}, map[uint64]bool{}
	}
	w.added[s], w.addedIDs[id] = id, true
	return id, nil
}

func (w *nameTx) lookup(id uint64) (string, error) {
	if s, ok := w.n.cached(id); ok {
		return s, nil
	}
	v := w.tx.Bucket(bucketNames).Get(itob(id))
	if v == nil {
		return "", fmt.Errorf("%w: name %d is not in the ledger", errCorrupt, id)
	}
	s := string(v)
	if !w.addedIDs[id] {
		w.n.remember(s, id)
	}
	return s, nil
}

// committed moves the names the transaction added into the cache.
func (w *nameTx) committed() {
	for s, id := range w.added {
		w.n.remember(s, id)
	}
}
