package tasks

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"correio.dev/peers/go/codec"
	"correio.dev/peers/go/protocol"
)

// Job is a job as the queue holds it (defs.json taskJob): its fields are those of
// protocol.TaskJob (ID, Queue, Task, State, Attempt, Args, Result, Error, …).
type Job struct {
	protocol.TaskJob
}

// The states a job ends in: tasks.get with wait_ms waits for one of them.
var finishedStates = map[string]bool{
	protocol.TaskStateSucceeded: true,
	protocol.TaskStateDead:      true,
	protocol.TaskStateCancelled: true,
}

// Finished reports whether the job succeeded, is dead or was cancelled.
func (j Job) Finished() bool { return finishedStates[j.State] }

// BindArgs decodes the job's arguments into target, a pointer, honouring json and msgpack tags.
func (j Job) BindArgs(target any) error { return bindValue(j.Args, target, "args") }

// BindResult decodes the job's result into target, a pointer, honouring json and msgpack tags.
func (j Job) BindResult(target any) error { return bindValue(j.Result, target, "result") }

// FailedError is what Result returns for a job that did not succeed: dead (its last attempt
// failed) or cancelled. Job.Error says why.
type FailedError struct {
	Job Job
}

func (e *FailedError) Error() string {
	text := fmt.Sprintf("job %s (%s) is %s", e.Job.ID, e.Job.Task, e.Job.State)
	if e.Job.Error != nil {
		text += ": " + e.Job.Error.Type + ": " + e.Job.Error.Message
	}
	return text
}

// toWire turns a Go value (a struct with json or msgpack tags, a map, a slice, a scalar) into the
// value model of codec.Decode, so that it can travel as a taskValue. A value v1 cannot carry (a
// float, a channel) is a VALIDATION error.
func toWire(value any) (any, error) {
	if value == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(true)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(value); err != nil {
		return nil, codec.Errorf(codec.CodeValidation, "cannot encode %T: %v", value, err)
	}
	generic, err := codec.Decode(buf.Bytes())
	if err != nil {
		return nil, codec.Errorf(codec.CodeValidation, "%T has no v1 encoding: %v", value, err)
	}
	return generic, nil
}

// some is toWire's value as an optional protocol field (nil when value is nil: absent).
func some(value any) (*protocol.TaskValue, error) {
	wire, err := toWire(value)
	if err != nil || wire == nil {
		return nil, err
	}
	return protocol.Some[protocol.TaskValue](wire), nil
}

// bindValue decodes an optional taskValue into target; an absent value leaves target as it is.
func bindValue(value *protocol.TaskValue, target any, what string) error {
	if value == nil {
		return nil
	}
	data, err := codec.Encode(*value)
	if err != nil {
		return err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	dec.DisallowUnknownFields(true)
	if err := dec.Decode(target); err != nil {
		return codec.Errorf(codec.CodeValidation, "cannot decode the job's %s into %T: %v", what, target, err)
	}
	return nil
}
