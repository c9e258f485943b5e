// Builds src/main.js into ../../app/graphiql/static/ (committed): fixed names for the
// entry script and stylesheet (app/graphiql/page.py links them), hashed names for the
// Monaco workers and chunks. No CDN, no inline script: the page's CSP is strict.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/graphiql/static/',
  publicDir: false,
  build: {
    outDir: '../../app/graphiql/static',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    cssCodeSplit: false,
    chunkSizeWarningLimit: 8000,
    rollupOptions: {
      input: 'src/main.js',
      output: {
        entryFileNames: 'graphiql.js',
        chunkFileNames: 'chunks/[name]-[hash].js',
        assetFileNames: (asset) =>
          asset.names?.includes('style.css') ? 'graphiql.css' : 'assets/[name]-[hash][extname]',
      },
    },
  },
  worker: {
    format: 'es',
    rollupOptions: { output: { entryFileNames: 'workers/[name]-[hash].js' } },
  },
});
