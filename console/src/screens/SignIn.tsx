import { useState } from 'react';

export function SignIn({ onSignIn }: { onSignIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <main className="page signin">
      <h1>Hookline console</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim()) onSignIn(token.trim());
        }}
      >
        <label>
          API key
          <input
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            placeholder="hkl_…"
          />
        </label>
        <button type="submit">Sign in</button>
      </form>
      <p className="muted">
        A VIEWER key sees everything; a SUPPORT key can also change it. The key stays in this tab.
      </p>
    </main>
  );
}
