package apiserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// The JSON 1.1 protocol (CloudTrail): the action in X-Amz-Target ("<target prefix>.<Action>"),
// the input as a JSON object. The input is handed to the service flattened into Query-style
// members (a.b for a structure's member, a.member.N for a list's, N from 1), so that one
// Service interface, one authorization and one audit path serve both protocols.

// jsonAction reads the action from X-Amz-Target.
func jsonAction(r *http.Request, prefix string) (string, error) {
	t := r.Header.Get("X-Amz-Target")
	action, ok := strings.CutPrefix(t, prefix+".")
	if !ok { // aws-sdk-go-v2 sends the service shape's name alone: "CloudTrail_20131101.LookupEvents"
		action, ok = strings.CutPrefix(t, prefix[strings.LastIndexByte(prefix, '.')+1:]+".")
	}
	if !ok || action == "" {
		return "", awsquery.Errorf(http.StatusBadRequest, "UnknownOperationException", "The operation %s is not known.", awsquery.Clip(t))
	}
	return action, nil
}

// jsonValues flattens a JSON object body into Query-style values.
func jsonValues(body []byte) (url.Values, error) {
	v := url.Values{}
	if len(bytes.TrimSpace(body)) == 0 {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var in map[string]any
	if err := dec.Decode(&in); err != nil || dec.More() {
		return nil, awsquery.Errorf(http.StatusBadRequest, "SerializationException", "The request body is not a JSON object.")
	}
	var flatten func(prefix string, x any)
	flatten = func(prefix string, x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				flatten(joinMember(prefix, k), e)
			}
		case []any:
			for i, e := range x {
				flatten(joinMember(prefix, "member."+strconv.Itoa(i+1)), e)
			}
		case string:
			v.Add(prefix, x)
		case json.Number:
			v.Add(prefix, x.String())
		case bool:
			v.Add(prefix, strconv.FormatBool(x))
		}
	}
	flatten("", in)
	return v, nil
}

func joinMember(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// WriteJSONResult writes a JSON 1.1 answer: result marshalled as is.
func WriteJSONResult(w http.ResponseWriter, _, _, requestID string, result any) {
	b, err := json.Marshal(result)
	if err != nil {
		WriteJSONError(w, "", requestID, err)
		return
	}
	if result == nil {
		b = []byte("{}")
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// jsonCodes are the JSON protocol's names of the common errors the Query protocol names
// otherwise.
var jsonCodes = map[string]string{
	"AccessDenied":               "AccessDeniedException",
	"InvalidClientTokenId":       "UnrecognizedClientException",
	"SignatureDoesNotMatch":      "InvalidSignatureException",
	"MissingAuthenticationToken": "MissingAuthenticationTokenException",
	"IncompleteSignature":        "IncompleteSignatureException",
	"InternalFailure":            "InternalFailure",
}

// WriteJSONError writes a JSON 1.1 error: {"__type": code, "message": ...}.
func WriteJSONError(w http.ResponseWriter, _, requestID string, err error) {
	e := *awsquery.AsError(err)
	if c, ok := jsonCodes[e.Code]; ok {
		e.Code = c
	}
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.Status)
	_, _ = fmt.Fprintf(w, "%s", b)
}
