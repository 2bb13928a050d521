// Vite imports the stylesheet for its side effect; TypeScript needs to know such imports exist.
declare module '*.css'
