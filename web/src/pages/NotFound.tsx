import { Link } from 'react-router';

export function NotFound() {
  return (
    <div className="flex flex-1 flex-col items-center justify-center gap-3 p-8 text-center">
      <p className="text-5xl font-bold text-indigo-600 dark:text-indigo-400">404</p>
      <h1 className="text-lg font-semibold">This page does not exist</h1>
      <Link to="/" className="text-sm font-medium text-indigo-600 hover:underline dark:text-indigo-400">
        Back to Home
      </Link>
    </div>
  );
}
