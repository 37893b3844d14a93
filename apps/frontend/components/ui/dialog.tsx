"use client";

import * as React from "react";

import { cn } from "@/lib/utils";

interface DialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description?: React.ReactNode;
  /** The dialog's body and its buttons. */
  children?: React.ReactNode;
  className?: string;
}

/**
 * A modal dialog on the browser's own `<dialog>`: `showModal()` makes the rest of the
 * page inert, keeps focus inside, closes on Escape and gives focus back to what opened
 * it. The element marked `data-autofocus` is focused first (make it the safe choice).
 * A click on the backdrop closes it too.
 */
export function Dialog({
  open,
  onOpenChange,
  title,
  description,
  children,
  className,
}: DialogProps) {
  const ref = React.useRef<HTMLDialogElement>(null);
  const titleId = React.useId();
  const descriptionId = React.useId();

  React.useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      dialog.querySelector<HTMLElement>("[data-autofocus]")?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      aria-describedby={description ? descriptionId : undefined}
      // Escape, or close() above: either way the owner hears that it is closed.
      onClose={() => onOpenChange(false)}
      onClick={(event) => {
        // The content fills the box, so a click on the element itself is the backdrop.
        if (event.target === event.currentTarget) onOpenChange(false);
      }}
      className={cn(
        "m-auto w-[calc(100%-2rem)] max-w-md rounded-xl border border-border bg-card p-0 text-card-foreground shadow-lg backdrop:bg-black/60",
        className,
      )}
    >
      <div className="flex flex-col gap-4 p-6">
        <h2 id={titleId} className="text-lg font-semibold leading-tight">
          {title}
        </h2>
        {description ? (
          <div id={descriptionId} className="text-sm text-muted-foreground">
            {description}
          </div>
        ) : null}
        {children}
      </div>
    </dialog>
  );
}
