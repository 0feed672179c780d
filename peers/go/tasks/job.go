package tasks

import (
	"fmt"

	"correio.dev/peers/go/internal/govalue"
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

// toWire turns a Go value into the generic value model a taskValue travels in (govalue.ToWire).
func toWire(value any) (any, error) { return govalue.ToWire(value) }

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
	return govalue.Bind(*value, target, "the job's "+what)
}
