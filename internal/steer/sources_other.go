//go:build !linux

package steer

import "errors"

func (*Steering) DrainRefused() ([]SourceRefusals, error) {
	return nil, errors.New("steer: needs Linux")
}
