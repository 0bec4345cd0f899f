package controlplane

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/pipe-cd/pipecd/pkg/datastore"
	"google.golang.org/protobuf/proto"
)

// memDatastore is pipecd's datastore.DataStore in memory: the real stores (datastore.NewDeploymentStore and the
// others) run on it unchanged. Entities are proto messages, copied in and out so that no caller shares one.
// Filters and orders name Go struct fields, as the MySQL and Firestore backends read them.
type memDatastore struct {
	mu       sync.Mutex
	entities map[string]map[string]proto.Message // kind → id → entity
	changed  chan struct{}                       // closed and replaced on every write
}

func newMemDatastore() *memDatastore {
	return &memDatastore{entities: map[string]map[string]proto.Message{}, changed: make(chan struct{})}
}

// Changed returns a channel closed at the next write.
func (d *memDatastore) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// notify must be called with mu held.
func (d *memDatastore) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *memDatastore) Find(_ context.Context, col datastore.Collection, opts datastore.ListOptions) (datastore.Iterator, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var found []proto.Message
	for _, e := range d.entities[col.Kind()] {
		ok, err := matches(e, opts.Filters)
		if err != nil {
			return nil, err
		}
		if ok {
			found = append(found, proto.Clone(e))
		}
	}
	var sortErr error
	slices.SortFunc(found, func(a, b proto.Message) int {
		for _, o := range opts.Orders {
			c, err := compareFields(field(a, o.Field), field(b, o.Field))
			if err != nil {
				sortErr = err
				return 0
			}
			if o.Direction == datastore.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	if sortErr != nil {
		return nil, sortErr
	}
	if opts.Limit > 0 && len(found) > opts.Limit {
		found = found[:opts.Limit]
	}
	return &memIterator{entities: found}, nil
}

func (d *memDatastore) Get(_ context.Context, col datastore.Collection, id string, entity interface{}) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entities[col.Kind()][id]
	if !ok {
		return datastore.ErrNotFound
	}
	return copyInto(entity, e)
}

func (d *memDatastore) Create(_ context.Context, col datastore.Collection, id string, entity interface{}) error {
	m, ok := entity.(proto.Message)
	if !ok {
		return fmt.Errorf("%s %s is a %T, not a proto message: %w", col.Kind(), id, entity, datastore.ErrInvalidArgument)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	kind := d.entities[col.Kind()]
	if kind == nil {
		kind = map[string]proto.Message{}
		d.entities[col.Kind()] = kind
	}
	if _, exists := kind[id]; exists {
		return datastore.ErrAlreadyExists
	}
	kind[id] = proto.Clone(m)
	d.notify()
	return nil
}

func (d *memDatastore) Update(_ context.Context, col datastore.Collection, id string, updater datastore.Updater) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entities[col.Kind()][id]
	if !ok {
		return datastore.ErrNotFound
	}
	updated := proto.Clone(e)
	if err := updater(updated); err != nil {
		return err
	}
	d.entities[col.Kind()][id] = updated
	d.notify()
	return nil
}

func (d *memDatastore) Close() error { return nil }

// memIterator walks a Find result; its cursor is empty: every result is one page.
type memIterator struct {
	entities []proto.Message
	next     int
}

func (it *memIterator) Next(dst interface{}) error {
	if it.next >= len(it.entities) {
		return datastore.ErrIteratorDone
	}
	it.next++
	return copyInto(dst, it.entities[it.next-1])
}

func (it *memIterator) Cursor() (string, error) { return "", nil }

func copyInto(dst interface{}, src proto.Message) error {
	m, ok := dst.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot read a %T into a %T: %w", src, dst, datastore.ErrInvalidArgument)
	}
	proto.Reset(m)
	proto.Merge(m, src)
	return nil
}

// field is the value of the exported struct field name of entity.
func field(entity proto.Message, name string) reflect.Value {
	return reflect.ValueOf(entity).Elem().FieldByName(name)
}

func matches(e proto.Message, filters []datastore.ListFilter) (bool, error) {
	for _, f := range filters {
		v := field(e, f.Field)
		if !v.IsValid() {
			return false, fmt.Errorf("%T has no field %s: %w", e, f.Field, datastore.ErrInvalidArgument)
		}
		ok, err := match(v, f.Operator, reflect.ValueOf(f.Value))
		if err != nil {
			return false, fmt.Errorf("filter on %s: %w", f.Field, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func match(v reflect.Value, op datastore.Operator, want reflect.Value) (bool, error) {
	switch op {
	case datastore.OperatorEqual, datastore.OperatorNotEqual:
		c, err := compareFields(v, want)
		return (c == 0) == (op == datastore.OperatorEqual), err
	case datastore.OperatorIn, datastore.OperatorNotIn:
		in, err := containsValue(want, v)
		return in == (op == datastore.OperatorIn), err
	case datastore.OperatorContains:
		return containsValue(v, want)
	case datastore.OperatorGreaterThan, datastore.OperatorGreaterThanOrEqual, datastore.OperatorLessThan, datastore.OperatorLessThanOrEqual:
		c, err := compareFields(v, want)
		switch op {
		case datastore.OperatorGreaterThan:
			return c > 0, err
		case datastore.OperatorGreaterThanOrEqual:
			return c >= 0, err
		case datastore.OperatorLessThan:
			return c < 0, err
		default:
			return c <= 0, err
		}
	}
	return false, fmt.Errorf("operator %d: %w", op, datastore.ErrUnsupported)
}

func containsValue(list, v reflect.Value) (bool, error) {
	if list.Kind() != reflect.Slice && list.Kind() != reflect.Array {
		return false, fmt.Errorf("%s is not a list: %w", list.Type(), datastore.ErrInvalidArgument)
	}
	for i := range list.Len() {
		c, err := compareFields(list.Index(i), v)
		if err != nil {
			return false, err
		}
		if c == 0 {
			return true, nil
		}
	}
	return false, nil
}

// compareFields orders two scalars of the same kind family (strings, bools, integers and enums, floats).
func compareFields(a, b reflect.Value) (int, error) {
	switch {
	case a.Kind() == reflect.String && b.Kind() == reflect.String:
		return cmp.Compare(a.String(), b.String()), nil
	case a.Kind() == reflect.Bool && b.Kind() == reflect.Bool:
		return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool())), nil
	case a.CanInt() && b.CanInt():
		return cmp.Compare(a.Int(), b.Int()), nil
	case isNumber(a) && isNumber(b):
		return cmp.Compare(number(a), number(b)), nil
	}
	return 0, fmt.Errorf("cannot compare %s with %s: %w", a.Type(), b.Type(), datastore.ErrInvalidArgument)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isNumber(v reflect.Value) bool { return v.CanInt() || v.CanUint() || v.CanFloat() }

func number(v reflect.Value) float64 {
	switch {
	case v.CanInt():
		return float64(v.Int())
	case v.CanUint():
		return float64(v.Uint())
	}
	return v.Float()
}
