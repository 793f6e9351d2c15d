package main

import (
	"context"
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// maxLogString is the most bytes of one string a log line carries: a
// message or a string attribute (an error's text among them) is cut there.
// Callers' ids have limits of their own (256 bytes, 128 characters); this
// bounds whatever reaches a log some other way (an error quoting a body, a
// panic value), so that no request can write a line of its choosing length.
const maxLogString = 1024

// boundedHandler is a slog.Handler that cuts long strings (the message,
// string attributes and errors, in groups too) to maxLogString bytes, on a UTF-8
// boundary and marked with the length cut, before handing the record on.
// Records within the bound pass through untouched, without allocating.
type boundedHandler struct{ next slog.Handler }

// newLogger returns the JSON logger of serve and lambda: level-filtered,
// strings bounded.
func newLogger(h slog.Handler) *slog.Logger { return slog.New(boundedHandler{h}) }

func (h boundedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h boundedHandler) Handle(ctx context.Context, r slog.Record) error {
	long := len(r.Message) > maxLogString
	if !long {
		r.Attrs(func(a slog.Attr) bool {
			long = attrTooLong(a)
			return !long
		})
	}
	if !long {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, cut(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(boundAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h boundedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	bounded := make([]slog.Attr, len(as))
	for i, a := range as {
		bounded[i] = boundAttr(a)
	}
	return boundedHandler{h.next.WithAttrs(bounded)}
}

func (h boundedHandler) WithGroup(name string) slog.Handler {
	return boundedHandler{h.next.WithGroup(cut(name))}
}

func attrTooLong(a slog.Attr) bool {
	switch a.Value.Kind() {
	case slog.KindString:
		return len(a.Value.String()) > maxLogString || len(a.Key) > maxLogString
	case slog.KindGroup:
		for _, g := range a.Value.Group() {
			if attrTooLong(g) {
				return true
			}
		}
	case slog.KindLogValuer:
		return attrTooLong(slog.Attr{Key: a.Key, Value: a.Value.Resolve()})
	case slog.KindAny:
		if e, ok := a.Value.Any().(error); ok && len(e.Error()) > maxLogString {
			return true
		}
	}
	return len(a.Key) > maxLogString
}

func boundAttr(a slog.Attr) slog.Attr {
	a.Key = cut(a.Key)
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(cut(a.Value.String()))
	case slog.KindGroup:
		g := a.Value.Group()
		bounded := make([]slog.Attr, len(g))
		for i := range g {
			bounded[i] = boundAttr(g[i])
		}
		a.Value = slog.GroupValue(bounded...)
	case slog.KindLogValuer:
		a.Value = a.Value.Resolve()
		return boundAttr(a)
	case slog.KindAny:
		if e, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(cut(e.Error()))
		}
	}
	return a
}

// cut shortens s to at most maxLogString bytes on a rune boundary, noting
// how long it was.
func cut(s string) string {
	if len(s) <= maxLogString {
		return s
	}
	n := maxLogString
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}
