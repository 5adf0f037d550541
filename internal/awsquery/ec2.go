package awsquery

import (
	"bytes"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
)

// EC2 speaks its own dialect of the Query protocol: a response has no Result wrapper (the
// output's members sit in <ActionResponse> beside <requestId>), and errors come in
// <Response><Errors><Error>, the envelope the EC2 SDKs parse.

// WriteEC2Result writes <ActionResponse xmlns=NS><requestId>..</requestId>members
// </ActionResponse>, the members being result's fields. result is a struct without an
// XMLName; nil writes <return>true</return>, as EC2 does for actions without output.
func WriteEC2Result(w http.ResponseWriter, namespace, action, requestID string, result any) {
	if result == nil {
		result = struct {
			Return bool `xml:"return"`
		}{true}
	}
	// Encode the result under a throwaway element and keep its contents: encoding/xml has
	// no way to encode a value's fields into an element of another name.
	var inner bytes.Buffer
	err := xml.NewEncoder(&inner).EncodeElement(result, xml.StartElement{Name: xml.Name{Local: "x"}})
	body := inner.Bytes()
	if err == nil && (!bytes.HasPrefix(body, []byte("<x>")) || !bytes.HasSuffix(body, []byte("</x>"))) {
		err = errUnencodable
	}
	if err != nil {
		// Only a programming error (an unencodable type) gets here.
		WriteEC2Error(w, namespace, requestID, err)
		return
	}
	body = body[len("<x>") : len(body)-len("</x>")]
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	buf.WriteString("<" + action + `Response xmlns="`)
	_ = xml.EscapeText(&buf, []byte(namespace))
	buf.WriteString(`"><requestId>`)
	_ = xml.EscapeText(&buf, []byte(requestID))
	buf.WriteString("</requestId>")
	buf.Write(body)
	buf.WriteString("</" + action + "Response>")
	writeXML(w, http.StatusOK, requestID, buf.Bytes())
}

var errUnencodable = errors.New("awsquery: EC2 result did not encode as a plain element")

type ec2ErrorResponse struct {
	XMLName xml.Name `xml:"Response"`
	Errors  struct {
		Error struct {
			Code    string
			Message string
		}
	}
	RequestID string
}

// WriteEC2Error writes EC2's error envelope. IAM's refusal (AccessDenied) becomes EC2's
// UnauthorizedOperation, the code EC2 clients expect for a denied call.
func WriteEC2Error(w http.ResponseWriter, _, requestID string, err error) {
	e := AsError(err)
	var r ec2ErrorResponse
	r.Errors.Error.Code, r.Errors.Error.Message, r.RequestID = e.Code, e.Message, requestID
	if e.Code == "AccessDenied" {
		r.Errors.Error.Code = "UnauthorizedOperation"
	}
	out, mErr := xml.Marshal(r)
	if mErr != nil {
		slog.Error("encode error response", "err", mErr)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeXML(w, e.Status, requestID, append([]byte(xml.Header), out...))
}
