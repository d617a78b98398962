package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	cookieName = "LWSSO_COOKIE_KEY"
	userCookie = "OCTANE_USER"
)

type session struct {
	user          string
	created, last time.Time
	expired       string // "" or the errorCode it answers with
	tokens        []string
}

// signIn implements POST /authentication/sign_in (section 2.1).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		drain(r)
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", "sign_in takes POST", false)
		return
	}
	if !acceptsJSON(r) {
		drain(r)
		writeError(w, http.StatusNotAcceptable, "platform.not_acceptable", "Accept must allow application/json", false)
		return
	}
	// HPECLIENTTYPE on sign-in: HPE_CI_CLIENT is what the CI SDK, the
	// collection tool and the Azure DevOps extension send there. JREST strips
	// its private client type from sign-in because "newer versions of the
	// Octane server will not accept a private access level HPE_CLIENT_TYPE on
	// the authentication request" (shared/octane-api.md section 2.1). Which
	// types count as private is not documented; the stand-in refuses every
	// other HPE_ or OCTANE_ type (the prefixes Octane reserves, section 2.4),
	// the stricter reading. Other values and no header are accepted.
	if ct := strings.TrimSpace(r.Header.Get("HPECLIENTTYPE")); ct != "HPE_CI_CLIENT" && reservedClientType(ct) {
		drain(r)
		writeError(w, http.StatusBadRequest, "platform.bad_request",
			fmt.Sprintf("HPECLIENTTYPE %q is a private client type, not accepted on sign-in", ct), false)
		return
	}
	body, _, e := s.readBody(r, "application/json")
	if e != nil {
		writeErr(w, e)
		return
	}
	v, err := decodeJSON(body)
	obj, ok := v.(map[string]any)
	if err != nil || !ok {
		writeError(w, http.StatusBadRequest, "platform.bad_request", "The sign-in body must be a JSON object", false)
		return
	}
	// Exactly one of the two documented shapes; anything else is malformed.
	var id, secret any
	switch {
	case len(obj) == 2 && has(obj, "client_id") && has(obj, "client_secret"):
		id, secret = obj["client_id"], obj["client_secret"]
	case len(obj) == 2 && has(obj, "user") && has(obj, "password"):
		id, secret = obj["user"], obj["password"]
	default:
		writeError(w, http.StatusBadRequest, "platform.bad_request",
			`The sign-in body must be {"client_id","client_secret"} or {"user","password"}`, false)
		return
	}
	ids, ok1 := id.(string)
	secrets, ok2 := secret.(string)
	matched := false
	if ok1 && ok2 {
		for _, c := range s.opts.Credentials {
			if c.ID == ids && c.Secret == secrets {
				matched = true
				break
			}
		}
	}
	if !matched {
		writeError(w, http.StatusUnauthorized, "platform.authentication_error", "Authentication failed: unknown user or API key, or wrong secret", false)
		return
	}
	// A sign-in that still carries a valid cookie is accepted (the brief; the
	// real server may answer 304, section 2.1): it opens a new session.
	now := time.Now()
	token := randomToken(48)
	s.mu.Lock()
	sess := &session{user: ids, created: now, last: now, tokens: []string{token}}
	s.sessions[token] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true})
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: ids, Path: "/"})
	w.WriteHeader(http.StatusOK)
}

func reservedClientType(ct string) bool {
	u := strings.ToUpper(ct)
	return strings.HasPrefix(u, "HPE_") || strings.HasPrefix(u, "OCTANE_")
}

func has(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// signOut implements POST /authentication/sign_out (section 2.5): 200 and the
// cookie expires, whether or not a session was attached.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	drain(r)
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", "sign_out takes POST", false)
		return
	}
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		if sess := s.sessions[c.Value]; sess != nil {
			for _, t := range sess.tokens {
				delete(s.sessions, t)
			}
		}
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: "", Path: "/", MaxAge: -1})
	w.WriteHeader(http.StatusOK)
}

const (
	expiredIdle   = "VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT"
	expiredGlobal = "VALIDATION_TOKEN_EXPIRED_GLOBAL_TIME_OUT"
)

// authenticate checks the session cookie of an /api or /internal-api request.
// It writes the 401 itself and returns false when the request may not go on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		drain(r)
		// The real code for "no cookie at all" is not in any stored source;
		// this one is ours.
		writeError(w, http.StatusUnauthorized, "platform.not_authenticated", "No LWSSO_COOKIE_KEY cookie: sign in first", false)
		return false
	}
	now := time.Now()
	s.mu.Lock()
	if s.expireAfter == 0 {
		for _, sess := range s.sessions {
			if sess.expired == "" {
				sess.expired = expiredIdle
			}
		}
		s.expireAfter = -1
	} else if s.expireAfter > 0 {
		s.expireAfter--
	}
	sess := s.sessions[c.Value]
	var code string
	switch {
	case sess == nil:
		code = "unknown"
	case sess.expired != "":
		code = sess.expired
	case s.opts.SessionMax > 0 && now.Sub(sess.created) > s.opts.SessionMax:
		code = expiredGlobal
	case s.opts.SessionIdle > 0 && now.Sub(sess.last) > s.opts.SessionIdle:
		code = expiredIdle
	}
	if code != "" && sess != nil {
		sess.expired = code
	}
	var newToken string
	if code == "" {
		sess.last = now
		if s.opts.RotateCookie {
			newToken = randomToken(48)
			sess.tokens = append(sess.tokens, newToken)
			s.sessions[newToken] = sess
		}
	}
	s.mu.Unlock()
	switch code {
	case "":
		if newToken != "" {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: newToken, Path: "/", HttpOnly: true})
		}
		return true
	case "unknown":
		drain(r)
		writeError(w, http.StatusUnauthorized, "platform.not_authenticated", "The LWSSO_COOKIE_KEY cookie is not a session of this server (signed out, or never signed in)", false)
	default:
		drain(r)
		// The expiry body of section 2.2 (JREST constants): a different shape
		// from section 3.4, on purpose.
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"errorCode":          code,
			"accumulatedMessage": "Session expired; sign in again",
			"correlation_id":     randomToken(25),
		})
	}
	return false
}

// ExpireSessionsAfter makes every session existing at that moment answer 401
// (expired) after n more authenticated requests. A later sign-in works.
func (s *Server) ExpireSessionsAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n < 0 {
		n = 0
	}
	s.expireAfter = n
}

// SessionCount is the number of live (not expired, not signed out) sessions.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[*session]bool{}
	for _, sess := range s.sessions {
		if sess.expired == "" {
			seen[sess] = true
		}
	}
	return len(seen)
}
