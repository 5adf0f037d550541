package apiserver

import (
	"net/http"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// storageFull is what a caller sees when serve cannot store a change because the volume
// holding its state is full. The store rolled the change back, so nothing was done. It is
// InternalFailure (500, which the SDKs retry) with a message naming the cause: the fault
// is the service's, not the caller's, so RDS's StorageQuotaExceeded (a 400 about the
// caller's storage quota) or IAM's LimitExceeded would mislead.
var storageFull = &awsquery.Error{
	Code:    "InternalFailure",
	Message: "The request was not carried out: the service cannot store it because the volume holding its state is full (no space left on device). Nothing was changed; retry once space is freed.",
	Status:  http.StatusInternalServerError,
}

// clientError names a full store; any other error is left to awsquery.AsError.
func clientError(err error) error {
	if err != nil && store.IsFull(err) {
		return storageFull
	}
	return err
}
