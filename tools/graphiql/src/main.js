// The gateway's GraphiQL: GraphiQL 5 (Monaco editors, their web workers bundled here)
// with the explorer plugin. Its configuration comes from the page itself: a JSON data
// block (<script type="application/json" id="graphiql-config">), never an inline script.
//   { "endpoint": "/graphql", "users": [{ "email": "...", "token": "..." }], "query": "...",
//     "hint": "shown when there is nobody to sign in as" }
// "users" (development only) are the demo accounts the signed-in switcher offers; their
// tokens stay in memory: the fetcher adds them to each request, the Headers tab stays
// empty and GraphiQL does not persist headers.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './page.css';

import { createElement as h, StrictMode, useMemo, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher } from '@graphiql/toolkit';

const config = JSON.parse(document.getElementById('graphiql-config').textContent);
const users = config.users || [];
const explorer = explorerPlugin();

function hasAuthorization(headers) {
  return Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
}

function App() {
  const [email, setEmail] = useState(users.length ? users[0].email : '');
  const current = useRef(email);
  current.current = email;
  const fetcher = useMemo(() => {
    const send = createGraphiQLFetcher({ url: config.endpoint, enableIncrementalDelivery: false });
    return (params, options = {}) => {
      const headers = { ...(options.headers || {}) };
      const user = users.find((u) => u.email === current.current);
      // An Authorization header typed in the Headers tab wins over the switcher.
      if (user && !hasAuthorization(headers)) headers.Authorization = `Bearer ${user.token}`;
      return send(params, { ...options, headers });
    };
  }, []);

  const bar = users.length
    ? h(
        'label',
        { className: 'harmony-signed-in' },
        'Signed in as ',
        h(
          'select',
          {
            'aria-label': 'Demo user',
            value: email,
            onChange: (event) => setEmail(event.target.value),
          },
          users.map((u) => h('option', { key: u.email, value: u.email }, u.email)),
          h('option', { value: '' }, 'nobody (use the Headers tab)'),
        ),
        h('span', { className: 'harmony-note' }, ' development only: demo tokens, kept in memory'),
      )
    : h('span', { className: 'harmony-note' }, config.hint);

  return h(
    'div',
    { className: 'harmony-page' },
    h('header', { className: 'harmony-bar' }, h('strong', null, 'Harmony Gateway'), bar),
    h(
      'main',
      { className: 'harmony-graphiql' },
      h(GraphiQL, {
        fetcher,
        plugins: [explorer],
        defaultQuery: config.query,
        shouldPersistHeaders: false,
        isHeadersEditorEnabled: true,
      }),
    ),
  );
}

createRoot(document.getElementById('graphiql')).render(h(StrictMode, null, h(App)));
