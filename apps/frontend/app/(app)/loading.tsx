export default function Loading() {
  return (
    <div className="flex flex-1 items-center justify-center p-16" role="status" aria-live="polite">
      <span className="size-8 animate-spin rounded-full border-4 border-primary-soft border-t-primary motion-reduce:animate-none" />
      <span className="sr-only">Loading…</span>
    </div>
  );
}
