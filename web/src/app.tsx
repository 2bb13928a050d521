// The console's shell: login gate, navigation, and the route table.
import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { clearToken, getToken, onTokenChange } from './auth.ts'
import { BackupsPage } from './pages/backups.tsx'
import { DashboardPage } from './pages/dashboard.tsx'
import { JobPage } from './pages/job-page.tsx'
import { JobsPage } from './pages/jobs.tsx'
import { LoginPage } from './pages/login.tsx'
import { PoolsPage } from './pages/pools.tsx'
import { RemotesPage } from './pages/remotes.tsx'
import { RunPage } from './pages/run-page.tsx'
import { RunsPage } from './pages/runs.tsx'
import { SchedulesPage } from './pages/schedules.tsx'
import type { Location } from './router.tsx'
import { Link, matchPath, useLocation } from './router.tsx'
import { Empty, PageHeader } from './ui/page.tsx'
import { Toasts } from './ui/toast.tsx'

const NAV: readonly (readonly [string, string, string])[] = [
  ['dashboard', '/', 'Dashboard'],
  ['jobs', '/jobs', 'Jobs'],
  ['schedules', '/schedules', 'Schedules'],
  ['runs', '/runs', 'Runs'],
  ['backups', '/backups', 'Backups'],
  ['remotes', '/remotes', 'Remotes'],
  ['pools', '/pools', 'Pools'],
]

function route({ path }: Location): ComponentChildren {
  const exact: Readonly<Record<string, () => ComponentChildren>> = {
    '/': () => <DashboardPage />,
    '/jobs': () => <JobsPage />,
    '/jobs/new': () => <JobPage id={undefined} />,
    '/schedules': () => <SchedulesPage />,
    '/runs': () => <RunsPage />,
    '/backups': () => <BackupsPage />,
    '/remotes': () => <RemotesPage />,
    '/pools': () => <PoolsPage />,
  }
  const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path
  const page = exact[normalized]
  if (page !== undefined) return page()
  const job = matchPath('/jobs/:id', normalized)
  if (job?.id !== undefined) return <JobPage key={job.id} id={job.id} />
  const run = matchPath('/runs/:id', normalized)
  if (run?.id !== undefined) return <RunPage key={run.id} id={run.id} />
  return (
    <>
      <PageHeader title="Not found" />
      <Empty>
        Nothing lives at <code>{path}</code>. <Link href="/">Back to the dashboard</Link>
      </Empty>
    </>
  )
}

const isActive = (href: string, path: string): boolean =>
  href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`)

function Nav({ path }: { readonly path: string }) {
  const [open, setOpen] = useState(false)
  useEffect(() => {
    setOpen(false)
  }, [path])
  return (
    <header class="topbar">
      <Link href="/" class="brand" data-testid="nav-brand">
        <span class="brand-mark" aria-hidden="true" />
        xapi-backup
      </Link>
      <button
        type="button"
        class="menu-button"
        aria-expanded={open}
        aria-controls="main-nav"
        data-testid="nav-menu"
        onClick={() => {
          setOpen(!open)
        }}
      >
        Menu
      </button>
      <nav id="main-nav" class={open ? 'nav open' : 'nav'} aria-label="Main">
        {NAV.map(([id, href, label]) => (
          <Link
            key={id}
            href={href}
            class={isActive(href, path) ? 'nav-link active' : 'nav-link'}
            aria-current={isActive(href, path) ? 'page' : undefined}
            data-testid={`nav-${id}`}
          >
            {label}
          </Link>
        ))}
        <button
          type="button"
          class="nav-link nav-logout"
          data-testid="nav-logout"
          onClick={() => {
            clearToken('Logged out.')
          }}
        >
          Log out
        </button>
      </nav>
    </header>
  )
}

/** The whole console: the login page without a token, else navigation and the current page. */
export function App() {
  const [token, setTokenState] = useState(getToken)
  const location = useLocation()
  useEffect(
    () =>
      onTokenChange(() => {
        setTokenState(getToken())
      }),
    [],
  )
  if (token === undefined)
    return (
      <>
        <LoginPage />
        <Toasts />
      </>
    )
  return (
    <div class="layout">
      <Nav path={location.path} />
      <main class="main" id="main">
        {route(location)}
      </main>
      <Toasts />
    </div>
  )
}
