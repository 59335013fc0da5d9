import { useEffect, useState, type ReactNode } from "react";
import { ApiError, loadSession, post, saveSession, type Session } from "./api";
import { pagesFor, ROLES, type PageId } from "./roles";
import { finishSignIn, loadOidcConfig, startSignIn, type OidcConfig } from "./oidc";
import { Overview } from "./pages/Overview";
import { Receivables } from "./pages/Receivables";
import { Collections } from "./pages/Collections";
import { Network } from "./pages/Network";
import { Reports } from "./pages/Reports";
import { Sla } from "./pages/Sla";
import { Alerts } from "./pages/Alerts";
import { Ops } from "./pages/Ops";

function currentHash(): string {
  return window.location.hash.replace(/^#\/?/, "");
}

function SignIn(props: { onSignedIn: (s: Session) => void; oidc: OidcConfig | null; oidcError: string | null }) {
  const { onSignedIn, oidc } = props;
  const [tenant, setTenant] = useState("demo-isp");
  const [role, setRole] = useState("admin");
  const [error, setError] = useState<string | null>(props.oidcError);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const answer = await post<{ access_token: string }>(null, "/dev/token", { tenant_id: tenant, role });
      onSignedIn({ token: answer.access_token, tenant, roles: [role], via: "dev" });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 404
          ? "The dev sign-in exists only in local mode (ENVIRONMENT=local/dev/test)."
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <form
        data-testid="signin"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h1>ISP BSS console</h1>
        {oidc ? (
          <>
            <button
              type="button"
              data-testid="oidc-signin"
              disabled={busy}
              onClick={() => {
                setBusy(true);
                startSignIn(oidc).catch((err: unknown) => {
                  setBusy(false);
                  setError(`OIDC sign-in failed: ${err instanceof Error ? err.message : String(err)}`);
                });
              }}
            >
              Sign in with {new URL(oidc.issuer).host}
            </button>
            <p className="hint">or, in local mode:</p>
          </>
        ) : null}
        <p className="hint">Local mode: sign in as any tenant and role (the demo tenant is demo-isp).</p>
        <label>
          Tenant <input name="tenant" value={tenant} onChange={(e) => setTenant(e.target.value)} required />
        </label>
        <label>
          Role{" "}
          <select name="role" value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error ? (
          <div className="error" role="alert">
            {error}
          </div>
        ) : null}
      </form>
    </div>
  );
}

/** The OIDC settings, and the session when the address is the provider's answer to a sign-in. */
function useOidc(onSignedIn: (s: Session) => void) {
  const [oidc, setOidc] = useState<OidcConfig | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    let live = true;
    void (async () => {
      const config = await loadOidcConfig();
      if (!live) return;
      setOidc(config);
      try {
        const session = config ? await finishSignIn(config) : null;
        if (session && live) onSignedIn(session);
      } catch (err) {
        if (live) setError(err instanceof Error ? err.message : String(err));
      } finally {
        if (live) setChecked(true);
      }
    })();
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { oidc, error, checked };
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession());
  const signedIn = (s: Session) => {
    saveSession(s);
    setSession(s);
  };
  const oidc = useOidc(signedIn);
  const [hash, setHash] = useState(currentHash());
  useEffect(() => {
    const onHash = () => setHash(currentHash());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  if (!session) {
    if (!oidc.checked) return <div className="loading" data-testid="loading">Loading…</div>;
    return <SignIn onSignedIn={signedIn} oidc={oidc.oidc} oidcError={oidc.error} />;
  }
  const pages = pagesFor(session.roles);
  const page = pages.find((p) => p.id === hash) ?? pages[0];
  const views: Record<PageId, ReactNode> = {
    overview: <Overview session={session} />,
    receivables: <Receivables session={session} />,
    collections: <Collections session={session} />,
    network: <Network session={session} />,
    reports: <Reports session={session} />,
    sla: <Sla session={session} />,
    alerts: <Alerts session={session} />,
    ops: <Ops session={session} />,
  };
  return (
    <div className="layout">
      <nav data-testid="nav">
        <div className="brand">ISP BSS</div>
        {pages.map((p) => (
          <a key={p.id} href={`#/${p.id}`} className={p.id === page?.id ? "active" : undefined} data-page={p.id}>
            {p.title}
          </a>
        ))}
        <div className="who" data-testid="who">
          {session.user ? `${session.user} · ` : ""}
          {session.tenant} · {session.roles.join(", ")}
          {session.via === "oidc" ? " · OIDC" : ""}
          <button
            onClick={() => {
              saveSession(null);
              setSession(null);
            }}
          >
            Sign out
          </button>
        </div>
      </nav>
      <main data-page={page?.id}>{page ? <div key={`${page.id}:${session.token}`}>{views[page.id]}</div> : <p>No page for this role.</p>}</main>
    </div>
  );
}
