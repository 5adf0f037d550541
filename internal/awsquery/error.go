// Package awsquery speaks the AWS Query protocol: form-encoded requests, XML responses and
// the error envelopes that the AWS SDKs and the aws CLI parse.
package awsquery

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error a client sees: an AWS fault code, a message and an HTTP status.
// Handlers return it for the caller's mistakes; anything else becomes InternalFailure.
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds a client error (HTTP 400 unless status says otherwise).
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: status}
}

// Common errors shared by every Query service (see the RDS API reference, "Common Errors").
func InvalidParameterValue(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "InvalidParameterValue", format, args...)
}

func InvalidParameterCombination(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "InvalidParameterCombination", format, args...)
}

func MissingParameter(name string) *Error {
	return Errorf(http.StatusBadRequest, "MissingParameter",
		"The request must contain the parameter %s", name)
}

func InvalidAction(action string) *Error {
	return Errorf(http.StatusBadRequest, "InvalidAction",
		"The action %s is not valid for this web service.", action)
}

// AsError turns any error into the client-facing form. Errors that are not *Error are
// internal and their text is not shown, so that no detail (a path, a secret) leaks.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: "InternalFailure", Message: "The request processing has failed because of an unknown error, exception or failure.", Status: http.StatusInternalServerError}
}

// Clip shortens client-supplied text quoted in an error message, so that a message stays
// readable and a huge parameter is not echoed back whole.
func Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
