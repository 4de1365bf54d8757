"""Who may use the API: HTTP Basic with the label's password, compared in constant time;
failed logins locked out per client address; the one UI session (a cookie) at a time.
Time is an argument (milliseconds), so tests drive every rule without sleeping."""
import binascii
import os

USER = "user"
FREE_FAILURES = 5  # then 2 s, doubling with each further failure
LOCK_MAX_MS = 300 * 1000
SESSION_IDLE_MS = 600 * 1000
_CLIENTS = 16  # failure records kept; the oldest is forgotten first


def _same(a, b):
    """Constant time over the whole of both: no early exit, length included."""
    diff = len(a) ^ len(b)
    for i in range(max(len(a), len(b))):
        diff |= (a[i] if i < len(a) else 0) ^ (b[i] if i < len(b) else 0)
    return diff == 0


class Auth:
    def __init__(self, password):
        self._expected = b"Basic " + binascii.b2a_base64(
            (USER + ":" + (password or "")).encode()).strip()
        self._disabled = not password  # never provisioned: nobody can log in
        self._failures = {}  # client -> [failures in a row, locked until ms]
        self.failed = 0
        self.lockouts = 0
        self.session = None  # the UI session's token
        self._session_seen = 0

    def locked(self, client, now):
        """Milliseconds the client must still wait, or 0."""
        f = self._failures.get(client)
        return max(0, f[1] - now) if f else 0

    def check(self, header, client, now):
        """True if the Basic header is right. Failures count per client; callers check
        locked() first, so a locked client's attempts are not even compared."""
        if not self._disabled and header is not None and _same(header.encode(),
                                                               self._expected):
            self._failures.pop(client, None)
            return True
        self.failed += 1
        f = self._failures.pop(client, None) or [0, 0]
        f[0] += 1
        if f[0] >= FREE_FAILURES:
            f[1] = now + min(LOCK_MAX_MS, 2000 << (f[0] - FREE_FAILURES))
            self.lockouts += 1
        if len(self._failures) >= _CLIENTS:
            del self._failures[next(iter(self._failures))]
        self._failures[client] = f  # re-inserted: the most recent is forgotten last
        return False

    def session_until(self, now):
        """When the UI session ends if it stays idle (ms), or 0 when there is none."""
        if self.session and now - self._session_seen < SESSION_IDLE_MS:
            return self._session_seen + SESSION_IDLE_MS
        self.session = None
        return 0

    def start_session(self, now):
        """A new session's token, or None while another one lasts."""
        if self.session_until(now):
            return None
        self.session = binascii.hexlify(os.urandom(16)).decode()
        self._session_seen = now
        return self.session

    def in_session(self, cookie, now):
        if cookie and self.session_until(now) and _same(cookie.encode(),
                                                        self.session.encode()):
            self._session_seen = now
            return True
        return False

    def end_session(self):
        self.session = None
