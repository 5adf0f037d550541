package awsquery

import (
	"bytes"
	"encoding/xml"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/google/uuid"
)

// NewRequestID returns a request id in the UUID form AWS uses.
func NewRequestID() string { return uuid.NewString() }

// WriteResult writes <ActionResponse xmlns=NS><ActionResult>result</ActionResult>
// <ResponseMetadata/></ActionResponse>. A nil result writes no Result element, as AWS
// does for operations without output (DeleteDBClusterParameterGroup, say).
func WriteResult(w http.ResponseWriter, namespace, action, requestID string, result any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	root := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: namespace}}}
	err := enc.EncodeToken(root)
	if err == nil && result != nil {
		err = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	}
	if err == nil {
		err = enc.EncodeElement(struct {
			RequestID string `xml:"RequestId"`
		}{requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	}
	if err == nil {
		err = enc.EncodeToken(root.End())
	}
	if err == nil {
		err = enc.Flush()
	}
	if err != nil {
		// Only a programming error (an unencodable type) gets here.
		WriteError(w, namespace, requestID, err)
		return
	}
	writeXML(w, http.StatusOK, requestID, buf.Bytes())
}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Namespace string   `xml:"xmlns,attr,omitempty"`
	Error     struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// WriteError writes the Query error envelope that the RDS, IAM and STS SDKs parse.
func WriteError(w http.ResponseWriter, namespace, requestID string, err error) {
	e := AsError(err)
	var r errorResponse
	r.Namespace = namespace
	r.Error.Type = "Sender"
	if e.Status >= 500 {
		r.Error.Type = "Receiver"
	}
	r.Error.Code, r.Error.Message, r.RequestID = e.Code, e.Message, requestID
	out, mErr := xml.Marshal(r)
	if mErr != nil {
		slog.Error("encode error response", "err", mErr)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeXML(w, e.Status, requestID, append([]byte(xml.Header), out...))
}

func writeXML(w http.ResponseWriter, status int, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
