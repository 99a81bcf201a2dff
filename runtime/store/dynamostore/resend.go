package dynamostore

import (
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// noResend is the per-call option of the conditional writes (Create's
// put, Update's update, Move's mark, put and delete): the SDK sends such
// a request again only after a failure that proves the engine did not
// apply it, a throttling answer or a failed dial. After any other
// failure (a connection cut or a timeout after the request went out, a
// 5xx answer, a damaged answer) the engine may have applied it, and the
// request sent again would be judged against its own work: a Create
// would report ErrExists for the session it wrote, an Update with
// expectations a conflict with itself, and Move's mark would find the
// session already marked and report it gone, losing it. Such a call
// fails with the error instead, its outcome unknown, as the store
// contract says.
func noResend(o *dynamodb.Options) {
	switch r := o.Retryer.(type) {
	case nil:
	case aws.RetryerV2:
		o.Retryer = resendUnappliedV2{r}
	default:
		o.Retryer = resendUnapplied{r}
	}
}

// resendUnapplied is a retryer that retries, as the one it wraps would,
// only the failures [unapplied] accepts.
type resendUnapplied struct{ aws.Retryer }

// IsErrorRetryable reports whether the wrapped retryer would retry err
// and err proves the request was not applied.
func (r resendUnapplied) IsErrorRetryable(err error) bool {
	return unapplied(err) && r.Retryer.IsErrorRetryable(err)
}

// resendUnappliedV2 is resendUnapplied for an [aws.RetryerV2].
type resendUnappliedV2 struct{ aws.RetryerV2 }

// IsErrorRetryable reports whether the wrapped retryer would retry err
// and err proves the request was not applied.
func (r resendUnappliedV2) IsErrorRetryable(err error) bool {
	return unapplied(err) && r.RetryerV2.IsErrorRetryable(err)
}

// unapplied reports whether err, a failed attempt, proves the engine did
// not apply the request: a throttling answer (DynamoDB refuses such a
// request whole) or a connection that could not be opened.
func unapplied(err error) bool {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		_, throttled := retry.DefaultThrottleErrorCodes[api.ErrorCode()]
		return throttled
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// notSent returns err, the failure of a single request made with
// noResend, wrapped with [store.ErrNotSent] when it proves that no
// attempt was applied: every attempt the SDK sent again had failed
// unapplied, so when the last one did too (the retries ran out on
// throttling answers), none was. A manager then keeps its cached copy,
// as after a failed dial. Other errors are returned as they are.
func notSent(err error) error {
	if err == nil || !unapplied(err) || errors.Is(err, store.ErrNotSent) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, store.ErrNotSent)
}
