// Login: the user pastes an API token (`xapi-backup token create`); it is checked with one
// authenticated call before it is kept for the tab.
import { useEffect, useState } from 'preact/hooks'
import { ApiError, REFUSED_TOKEN } from '../api.ts'
import { logoutNotice, setToken } from '../auth.ts'
import { FormError } from '../ui/fields.tsx'

async function checkToken(token: string): Promise<void> {
  const response = await fetch('/api/pools', {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    cache: 'no-store',
  })
  if (response.status === 401) throw new ApiError(401, 'UNAUTHORIZED', REFUSED_TOKEN, undefined, undefined)
  if (!response.ok)
    throw new ApiError(
      response.status,
      'HTTP',
      `The server answered HTTP ${response.status}.`,
      undefined,
      undefined,
    )
}

function useVersion(): string | undefined {
  const [version, setVersion] = useState<string | undefined>(undefined)
  useEffect(() => {
    fetch('/api/health', { cache: 'no-store' })
      .then((r) => (r.ok ? (r.json() as Promise<{ version?: unknown }>) : undefined))
      .then((body) => {
        if (typeof body?.version === 'string') setVersion(body.version)
      })
      .catch(() => undefined)
  }, [])
  return version
}

function useLogin() {
  const [error, setError] = useState<string | undefined>(logoutNotice())
  const [busy, setBusy] = useState(false)
  const login = async (token: string): Promise<void> => {
    if (token === '') {
      setError('Paste a token first.')
      return
    }
    setBusy(true)
    setError(undefined)
    try {
      await checkToken(token)
      setToken(token)
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'The server could not be reached.')
    } finally {
      setBusy(false)
    }
  }
  return { error, busy, login }
}

/** The login page (shown for any path while there is no token). */
export function LoginPage() {
  const [token, setTokenText] = useState('')
  const { error, busy, login } = useLogin()
  const version = useVersion()
  return (
    <main class="login">
      <form
        class="login-card card"
        data-testid="login-form"
        onSubmit={(e) => {
          e.preventDefault()
          void login(token.trim())
        }}
      >
        <div class="brand login-brand">
          <span class="brand-mark" aria-hidden="true" />
          xapi-backup
        </div>
        <h1>Sign in</h1>
        <p class="muted">
          Paste an API token. Create one on the server with <code>xapi-backup token create</code>. It is kept
          in this tab only.
        </p>
        <label class="field">
          <span>API token</span>
          <input
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={token}
            data-testid="login-token"
            aria-invalid={error === undefined ? undefined : true}
            autofocus
            onInput={(e) => {
              setTokenText(e.currentTarget.value)
            }}
          />
        </label>
        <FormError error={error} testId="login-error" />
        <button type="submit" class="button primary wide" disabled={busy} data-testid="login-submit">
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {version === undefined ? null : <p class="muted small center">server {version}</p>}
      </form>
    </main>
  )
}
