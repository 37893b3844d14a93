import Link from "next/link";

/** The Solace mark: a rising sun over calm water, and the wordmark. */
export function Logo() {
  return (
    <Link
      href="/"
      className="flex items-center gap-2 rounded-full font-semibold tracking-tight"
      aria-label="Solace home"
    >
      <svg viewBox="0 0 32 32" className="size-8" aria-hidden="true">
        <circle cx="16" cy="16" r="15" className="fill-primary-soft" />
        <path d="M8 18a8 8 0 0 1 16 0z" className="fill-primary" />
        <path
          d="M7 21.5h18M10 25h12"
          className="stroke-accent"
          strokeWidth="2"
          strokeLinecap="round"
        />
      </svg>
      {/* The mark alone on the narrowest phones; its name is the link's label. */}
      <span className="hidden text-lg min-[400px]:inline">Solace</span>
    </Link>
  );
}
